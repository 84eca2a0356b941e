"use strict";(self.rspackChunknbmlops=self.rspackChunknbmlops||[]).push([[232],{475(o,r,n){var e=n(601),t=n.n(e),a=n(314),l=(n.n(a))()(t());l.push([o.id,`/* The MLOps panel follows JupyterLab's theme (light/dark) through its CSS variables only. */

.nbmlops-panel {
  display: flex;
  flex-direction: column;
  background: var(--jp-layout-color1);
  color: var(--jp-ui-font-color1);
  font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size1);
}

.nbmlops-header {
  display: flex;
  align-items: center;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
  padding: 4px 6px;
  gap: 4px;
}

.nbmlops-tabs {
  display: flex;
  flex: 1;
  gap: 2px;
}

.nbmlops-tab,
.nbmlops-refresh {
  background: transparent;
  border: none;
  border-bottom: 2px solid transparent;
  color: var(--jp-ui-font-color2);
  cursor: pointer;
  font-size: var(--jp-ui-font-size1);
  padding: 4px 8px;
}

.nbmlops-tab.nbmlops-mod-active {
  border-bottom-color: var(--jp-brand-color1);
  color: var(--jp-ui-font-color0);
  font-weight: 600;
}

.nbmlops-status {
  color: var(--jp-ui-font-color2);
  padding: 2px 8px;
  min-height: 1.2em;
}

.nbmlops-status.nbmlops-mod-error {
  color: var(--jp-error-color1);
}

.nbmlops-body {
  flex: 1;
  overflow: hidden auto;
  padding: 4px 8px 12px;
}

.nbmlops-body > * {
  max-width: 100%;
}

.nbmlops-filter {
  width: 100%;
  box-sizing: border-box;
  margin-bottom: 6px;
}

.nbmlops-table {
  border-collapse: collapse;
  width: 100%;
}

.nbmlops-table th,
.nbmlops-table td {
  border-bottom: var(--jp-border-width) solid var(--jp-border-color3);
  padding: 3px 4px;
  text-align: left;
  vertical-align: middle;
}

.nbmlops-table th {
  color: var(--jp-ui-font-color2);
  font-weight: 600;
}

.nbmlops-num {
  font-family: var(--jp-code-font-family);
  text-align: right;
}

.nbmlops-run-row,
.nbmlops-model-row {
  cursor: pointer;
}

.nbmlops-run-row:hover,
.nbmlops-model-row:hover {
  background: var(--jp-layout-color2);
}

.nbmlops-pager {
  align-items: center;
  display: flex;
  justify-content: space-between;
  margin-top: 6px;
}

.nbmlops-title {
  margin: 6px 0 2px;
}

.nbmlops-meta,
.nbmlops-dim,
.nbmlops-empty {
  color: var(--jp-ui-font-color2);
}

.nbmlops-meta {
  font-size: var(--jp-ui-font-size0);
  margin-bottom: 6px;
  word-break: break-all;
}

.nbmlops-section h4 {
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
  margin: 10px 0 4px;
}

.nbmlops-code {
  box-sizing: border-box;
  max-width: 100%;
  background: var(--jp-cell-editor-background);
  border: var(--jp-border-width) solid var(--jp-cell-editor-border-color);
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size);
  margin: 0;
  overflow: auto;
  padding: 4px 6px;
  white-space: pre;
}

.nbmlops-sparkline polyline {
  fill: none;
  stroke: var(--jp-brand-color1);
  stroke-width: 1.5;
}

.nbmlops-sparkline circle {
  fill: var(--jp-brand-color1);
}

.nbmlops-badge {
  background: var(--jp-layout-color3);
  border-radius: 8px;
  color: var(--jp-ui-font-color1);
  display: inline-block;
  font-size: var(--jp-ui-font-size0);
  margin-right: 3px;
  padding: 0 6px;
}

.nbmlops-status-finished,
.nbmlops-stage-production {
  background: var(--jp-success-color1);
  color: var(--jp-ui-inverse-font-color1);
}

.nbmlops-status-failed,
.nbmlops-mod-drift {
  background: var(--jp-error-color1);
  color: var(--jp-ui-inverse-font-color1);
}

.nbmlops-status-running,
.nbmlops-stage-staging {
  background: var(--jp-warn-color1);
  color: var(--jp-ui-inverse-font-color1);
}

.nbmlops-run-name,
.nbmlops-history li {
  overflow-wrap: anywhere;
}

.nbmlops-badge {
  white-space: nowrap;
}

.nbmlops-actions {
  text-align: right;
}

.nbmlops-actions button {
  background: var(--jp-layout-color2);
  border: var(--jp-border-width) solid var(--jp-border-color1);
  border-radius: 2px;
  color: var(--jp-ui-font-color1);
  cursor: pointer;
  display: block;
  font-size: var(--jp-ui-font-size0);
  margin: 2px 0 2px auto;
  padding: 1px 6px;
}

.nbmlops-actions button:hover {
  background: var(--jp-layout-color3);
}

.nbmlops-back,
.nbmlops-insert,
.nbmlops-rollback {
  margin: 2px 2px 2px 0;
}

.nbmlops-history,
.nbmlops-artifacts {
  margin: 0;
  padding-left: 16px;
}

.nbmlops-form label {
  display: block;
  margin: 6px 0;
}

.nbmlops-form .nbmlops-reason {
  width: 100%;
  box-sizing: border-box;
}

.nbmlops-card-frame {
  background: white;
  border: none;
  height: 60vh;
  width: min(800px, 80vw);
}
`,""]),n.d(r,{},{A:l})},314(o){o.exports=function(o){var r=[];return r.toString=function(){return this.map(function(r){var n="",e=void 0!==r[5];return r[4]&&(n+="@supports (".concat(r[4],") {")),r[2]&&(n+="@media ".concat(r[2]," {")),e&&(n+="@layer".concat(r[5].length>0?" ".concat(r[5]):""," {")),n+=o(r),e&&(n+="}"),r[2]&&(n+="}"),r[4]&&(n+="}"),n}).join("")},r.i=function(o,n,e,t,a){"string"==typeof o&&(o=[[null,o,void 0]]);var l={};if(e)for(var i=0;i<this.length;i++){var p=this[i][0];null!=p&&(l[p]=!0)}for(var s=0;s<o.length;s++){var c=[].concat(o[s]);e&&l[c[0]]||(void 0!==a&&(void 0===c[5]||(c[1]="@layer".concat(c[5].length>0?" ".concat(c[5]):""," {").concat(c[1],"}")),c[5]=a),n&&(c[2]&&(c[1]="@media ".concat(c[2]," {").concat(c[1],"}")),c[2]=n),t&&(c[4]?(c[1]="@supports (".concat(c[4],") {").concat(c[1],"}"),c[4]=t):c[4]="".concat(t)),r.push(c))}},r}},601(o){o.exports=function(o){return o[1]}},72(o){var r=[];function n(o){for(var n=-1,e=0;e<r.length;e++)if(r[e].identifier===o){n=e;break}return n}function e(o,e){for(var t={},a=[],l=0;l<o.length;l++){var i=o[l],p=e.base?i[0]+e.base:i[0],s=t[p]||0,c="".concat(p," ").concat(s);t[p]=s+1;var d=n(c),b={css:i[1],media:i[2],sourceMap:i[3],supports:i[4],layer:i[5]};if(-1!==d)r[d].references++,r[d].updater(b);else{var u=function(o,r){var n=r.domAPI(r);return n.update(o),function(r){r?(r.css!==o.css||r.media!==o.media||r.sourceMap!==o.sourceMap||r.supports!==o.supports||r.layer!==o.layer)&&n.update(o=r):n.remove()}}(b,e);e.byIndex=l,r.splice(l,0,{identifier:c,updater:u,references:1})}a.push(c)}return a}o.exports=function(o,t){var a=e(o=o||[],t=t||{});return function(o){o=o||[];for(var l=0;l<a.length;l++){var i=n(a[l]);r[i].references--}for(var p=e(o,t),s=0;s<a.length;s++){var c=n(a[s]);0===r[c].references&&(r[c].updater(),r.splice(c,1))}a=p}}},659(o){var r={};o.exports=function(o,n){var e=function(o){if(void 0===r[o]){var n=document.querySelector(o);if(window.HTMLIFrameElement&&n instanceof window.HTMLIFrameElement)try{n=n.contentDocument.head}catch(o){n=null}r[o]=n}return r[o]}(o);if(!e)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");e.appendChild(n)}},540(o){o.exports=function(o){var r=document.createElement("style");return o.setAttributes(r,o.attributes),o.insert(r,o.options),r}},56(o,r,n){o.exports=function(o){var r=n.nc;r&&o.setAttribute("nonce",r)}},206(o){o.exports=function(o){if("u"<typeof document)return{update:function(){},remove:function(){}};var r=o.insertStyleElement(o);return{update:function(n){var e,t,a;e="",n.supports&&(e+="@supports (".concat(n.supports,") {")),n.media&&(e+="@media ".concat(n.media," {")),(t=void 0!==n.layer)&&(e+="@layer".concat(n.layer.length>0?" ".concat(n.layer):""," {")),e+=n.css,t&&(e+="}"),n.media&&(e+="}"),n.supports&&(e+="}"),(a=n.sourceMap)&&"u">typeof btoa&&(e+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(a))))," */")),o.styleTagTransform(e,r,o.options)},remove:function(){var o;null===(o=r).parentNode||o.parentNode.removeChild(o)}}}},113(o){o.exports=function(o,r){if(r.styleSheet)r.styleSheet.cssText=o;else{for(;r.firstChild;)r.removeChild(r.firstChild);r.appendChild(document.createTextNode(o))}}},579(o,r,n){var e=n(72),t=n.n(e),a=n(206),l=n.n(a),i=n(659),p=n.n(i),s=n(56),c=n.n(s),d=n(540),b=n.n(d),u=n(113),m=n.n(u),f=n(475),v={};v.styleTagTransform=m(),v.setAttributes=c(),v.insert=p().bind(null,"head"),v.domAPI=l(),v.insertStyleElement=b(),t()(f.A,v),f.A&&f.A.locals&&f.A.locals}}]);