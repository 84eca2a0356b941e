"use strict";(self.rspackChunknbmlops=self.rspackChunknbmlops||[]).push([[232],{475(o,e,r){var n=r(601),t=r.n(n),a=r(314),l=(r.n(a))()(t());l.push([o.id,`/* The MLOps panel follows JupyterLab's theme (light/dark) through its CSS variables only.
 *
 * It must read well at the sidebar's default width (~250 px): nothing may leave the panel.
 * Long text is one line cut with an ellipsis (.nbmlops-clip, full text in its title), flex
 * and grid children get min-width: 0 so they can shrink, and key/value rows wrap the value
 * under its key instead of pushing it out. Never overflow-wrap: anywhere on names: in tables
 * and flex boxes it lets them shrink to one letter per line.
 */

.nbmlops-panel {
  display: flex;
  flex-direction: column;
  min-width: 0;
  background: var(--jp-layout-color1);
  color: var(--jp-ui-font-color1);
  font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size1);
}

.nbmlops-clip {
  min-width: 0;
  max-width: 100%;
  overflow: hidden;
  text-overflow: ellipsis;
  white-space: nowrap;
}

span.nbmlops-clip {
  display: inline-block;
  vertical-align: bottom;
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
  flex-wrap: wrap; /* five tabs: two rows at the sidebar's default width, one when wider */
  gap: 2px;
  min-width: 0;
}

.nbmlops-tab,
.nbmlops-refresh {
  background: transparent;
  border: none;
  border-bottom: 2px solid transparent;
  color: var(--jp-ui-font-color2);
  cursor: pointer;
  font-size: var(--jp-ui-font-size1);
  padding: 4px 6px;
  white-space: nowrap;
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
  overflow-wrap: break-word;
}

.nbmlops-status.nbmlops-mod-error {
  color: var(--jp-error-color1);
}

.nbmlops-body {
  flex: 1;
  min-width: 0;
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

.nbmlops-panel code {
  overflow-wrap: break-word;
}

/* -- tables (models, reports, gates) ------------------------------------------------------ */

.nbmlops-table {
  border-collapse: collapse;
  width: 100%;
}

.nbmlops-table.nbmlops-fixed {
  table-layout: fixed;
}

.nbmlops-col-num {
  width: 5.5em;
}

.nbmlops-col-status {
  width: 5.5em;
}

.nbmlops-col-experiment {
  width: 35%;
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

.nbmlops-num,
.nbmlops-table .nbmlops-num {
  font-family: var(--jp-code-font-family);
  font-variant-numeric: tabular-nums;
  text-align: right;
}

.nbmlops-model-row {
  cursor: pointer;
}

.nbmlops-model-row:hover,
.nbmlops-run-row:hover {
  background: var(--jp-layout-color2);
}

/* -- the run list: two lines per run ------------------------------------------------------ */

.nbmlops-run-head,
.nbmlops-run-row {
  display: grid;
  grid-template-columns: minmax(0, 1fr) auto;
  column-gap: 8px;
  align-items: center;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color3);
  padding: 3px 4px;
}

.nbmlops-run-head {
  color: var(--jp-ui-font-color2);
  font-weight: 600;
}

.nbmlops-run-row {
  cursor: pointer;
}

.nbmlops-run-row:focus-visible {
  outline: 1px solid var(--jp-brand-color1);
}

.nbmlops-run-name {
  font-weight: 600;
}

.nbmlops-run-metric,
.nbmlops-run-when {
  justify-self: end;
}

.nbmlops-run-sub {
  display: flex;
  align-items: center;
  gap: 6px;
  min-width: 0;
}

.nbmlops-run-experiment {
  flex: 0 1 auto;
}

.nbmlops-run-sub .nbmlops-badge,
.nbmlops-run-when {
  font-size: var(--jp-ui-font-size0);
}

.nbmlops-run-sub .nbmlops-badge {
  flex: none;
}

.nbmlops-pager {
  align-items: center;
  display: flex;
  gap: 4px;
  justify-content: space-between;
  margin-top: 6px;
}

.nbmlops-pager span {
  min-width: 0;
  overflow: hidden;
  text-overflow: ellipsis;
  white-space: nowrap;
}

.nbmlops-pager button {
  flex: none;
}

/* -- a run --------------------------------------------------------------------------------- */

.nbmlops-title {
  align-items: center;
  display: flex;
  gap: 6px;
  margin: 6px 0 2px;
  min-width: 0;
}

.nbmlops-title .nbmlops-badge {
  flex: none;
}

.nbmlops-meta,
.nbmlops-dim,
.nbmlops-empty {
  color: var(--jp-ui-font-color2);
}

.nbmlops-meta {
  display: flex;
  flex-wrap: wrap;
  column-gap: 8px;
  font-size: var(--jp-ui-font-size0);
  margin-bottom: 6px;
}

.nbmlops-section h4 {
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
  margin: 10px 0 4px;
}

/* A key/value row: the value right of its key when both fit, else on the line below. */
.nbmlops-kv-row {
  align-items: center;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color3);
  column-gap: 8px;
  display: flex;
  flex-wrap: wrap;
  padding: 2px 4px;
}

.nbmlops-kv-key {
  color: var(--jp-ui-font-color2);
  flex: 0 1 auto;
  font-weight: 600;
}

.nbmlops-kv-value {
  flex: 0 1 auto;
  margin-left: auto;
  min-width: 0;
  max-width: 100%;
  text-align: right;
}

.nbmlops-params .nbmlops-kv-value {
  font-family: var(--jp-code-font-family);
}

.nbmlops-metric {
  align-items: center;
  display: flex;
  gap: 6px;
}

.nbmlops-metric .nbmlops-sparkline {
  flex: none;
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

/* -- badges -------------------------------------------------------------------------------- */

.nbmlops-badge {
  background: var(--jp-layout-color3);
  border-radius: 8px;
  box-sizing: border-box;
  color: var(--jp-ui-font-color1);
  display: inline-block;
  font-size: var(--jp-ui-font-size0);
  max-width: 100%;
  overflow: hidden;
  padding: 0 6px;
  text-overflow: ellipsis;
  vertical-align: middle;
  white-space: nowrap;
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

/* -- a model ------------------------------------------------------------------------------- */

.nbmlops-version-row {
  border-bottom: var(--jp-border-width) solid var(--jp-border-color3);
  padding: 4px 2px;
}

.nbmlops-version-line {
  align-items: center;
  display: flex;
  flex-wrap: wrap;
  gap: 4px 6px;
  min-width: 0;
}

.nbmlops-version {
  flex: none;
  font-weight: 600;
}

.nbmlops-badges {
  display: flex;
  flex-wrap: wrap;
  gap: 3px;
  min-width: 0;
}

.nbmlops-version-metric {
  display: flex;
  gap: 4px;
  margin-left: auto;
  min-width: 0;
  max-width: 100%;
}

.nbmlops-version-metric .nbmlops-num {
  flex: none;
}

.nbmlops-actions {
  display: flex;
  flex-wrap: wrap;
  gap: 4px;
  margin-top: 3px;
}

.nbmlops-actions button {
  background: var(--jp-layout-color2);
  border: var(--jp-border-width) solid var(--jp-border-color1);
  border-radius: 2px;
  color: var(--jp-ui-font-color1);
  cursor: pointer;
  font-size: var(--jp-ui-font-size0);
  padding: 1px 6px;
}

.nbmlops-actions button:hover:enabled {
  background: var(--jp-layout-color3);
}

.nbmlops-actions button:disabled,
.nbmlops-rollback:disabled {
  cursor: not-allowed;
  opacity: 0.5;
}

.nbmlops-back,
.nbmlops-insert,
.nbmlops-rollback {
  margin: 2px 2px 2px 0;
  max-width: 100%;
}

.nbmlops-rollback-wrap {
  display: inline-block;
  max-width: 100%;
}

.nbmlops-history {
  margin: 0;
  padding-left: 16px;
}

.nbmlops-history li {
  overflow-wrap: break-word;
}

.nbmlops-history-gates {
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-ui-font-size0);
}

/* -- empty states -------------------------------------------------------------------------- */

.nbmlops-empty-state {
  padding: 8px 2px;
}

.nbmlops-empty-title {
  font-weight: 600;
  margin: 0 0 4px;
}

.nbmlops-empty-state .nbmlops-empty {
  line-height: 1.5;
  margin: 0;
}

/* -- dialogs ------------------------------------------------------------------------------- */

.nbmlops-form label {
  display: block;
  margin: 6px 0;
}

.nbmlops-form .nbmlops-reason,
.nbmlops-form .nbmlops-gates {
  box-sizing: border-box;
  display: block;
  width: 100%;
}

.nbmlops-form .nbmlops-gates {
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size);
  resize: vertical;
}

.nbmlops-promote-form {
  max-width: 560px;
}

.nbmlops-hint {
  display: block;
  font-size: var(--jp-ui-font-size0);
}

.nbmlops-failure {
  border-left: 3px solid var(--jp-error-color1);
  margin: 6px 0;
  padding: 2px 8px;
}

.nbmlops-failure-title {
  color: var(--jp-error-color1);
  font-weight: 600;
  margin: 2px 0 4px;
  overflow-wrap: break-word;
}

.nbmlops-gate {
  font-family: var(--jp-code-font-family);
  overflow-wrap: break-word;
}

.nbmlops-gate-failed .nbmlops-gate {
  color: var(--jp-error-color1);
}

.nbmlops-card-frame {
  background: white;
  border: none;
  height: 60vh;
  width: min(800px, 80vw);
}

/* -- serving and approvals ----------------------------------------------------------------- */

.nbmlops-cards {
  display: flex;
  flex-direction: column;
  gap: 6px;
}

.nbmlops-card-box {
  border: var(--jp-border-width) solid var(--jp-border-color2);
  border-radius: 3px;
  min-width: 0;
  padding: 4px 6px;
}

.nbmlops-card-head {
  align-items: center;
  display: flex;
  gap: 4px;
  min-width: 0;
}

.nbmlops-card-title {
  flex: 1 1 auto;
  font-weight: 600;
}

.nbmlops-card-head .nbmlops-badge {
  flex: none;
}

.nbmlops-card-box .nbmlops-meta {
  margin: 1px 0 3px;
}

.nbmlops-subhead {
  align-items: baseline;
  border-top: var(--jp-border-width) solid var(--jp-border-color3);
  display: flex;
  font-weight: 600;
  gap: 6px;
  justify-content: space-between;
  margin-top: 4px;
  padding-top: 2px;
}

.nbmlops-subhead .nbmlops-dim {
  font-size: var(--jp-ui-font-size0);
  font-weight: normal;
}

/* An arm: name, version, share bar, share; the numbers align in their own columns. */
.nbmlops-arm {
  align-items: center;
  display: grid;
  gap: 6px;
  grid-template-columns: minmax(0, 5.5em) 2.5em minmax(0, 1fr) 3.5em;
  padding: 1px 0;
}

.nbmlops-arm-version,
.nbmlops-arm-share {
  font-variant-numeric: tabular-nums;
  text-align: right;
}

.nbmlops-arm-bar {
  background: var(--jp-layout-color3);
  border-radius: 2px;
  display: block;
  height: 6px;
  overflow: hidden;
}

.nbmlops-arm-fill {
  background: var(--jp-brand-color1);
  display: block;
  height: 100%;
}

.nbmlops-arm-candidate,
.nbmlops-arm-shadow {
  background: var(--jp-warn-color1);
}

/* A gate or guard: the rule on one line, its value and PASS/FAIL right-aligned below it
   when both do not fit beside it. */
.nbmlops-check {
  align-items: center;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color3);
  column-gap: 6px;
  display: flex;
  flex-wrap: wrap;
  padding: 2px 0;
}

.nbmlops-check-rule {
  flex: 1 1 auto; /* beside its result when both fit, else on a line of its own */
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size);
}

.nbmlops-check-result {
  align-items: center;
  display: flex;
  flex: none;
  gap: 4px;
  margin-left: auto;
}

.nbmlops-check-value {
  min-width: 3.5em;
  text-align: right;
}

.nbmlops-check .nbmlops-badge {
  min-width: 3.2em;
  text-align: center;
}

.nbmlops-gate-failed .nbmlops-check-rule {
  color: var(--jp-error-color1);
}

.nbmlops-rollout-reason,
.nbmlops-request-reason {
  margin: 3px 0 0;
  overflow: hidden;
  display: -webkit-box;
  -webkit-box-orient: vertical;
  -webkit-line-clamp: 3;
}

.nbmlops-server-live {
  background: var(--jp-success-color1);
  color: var(--jp-ui-inverse-font-color1);
}

.nbmlops-server-gone {
  background: var(--jp-layout-color3);
  color: var(--jp-ui-font-color2);
}

.nbmlops-served {
  align-items: center;
  display: flex;
  gap: 6px;
  justify-content: space-between;
  min-width: 0;
  padding: 1px 0;
}

.nbmlops-served-name {
  flex: 0 1 auto;
}

.nbmlops-served-what {
  flex: none;
  font-variant-numeric: tabular-nums;
}

.nbmlops-status-aborted {
  background: var(--jp-error-color1);
  color: var(--jp-ui-inverse-font-color1);
}

.nbmlops-status-completed,
.nbmlops-status-approved {
  background: var(--jp-success-color1);
  color: var(--jp-ui-inverse-font-color1);
}

.nbmlops-status-paused,
.nbmlops-status-pending {
  background: var(--jp-warn-color1);
  color: var(--jp-ui-inverse-font-color1);
}

.nbmlops-policy-stage {
  padding: 1px 0 3px;
}

.nbmlops-policy-gate {
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size);
  padding-left: 8px;
}
`,""]),r.d(e,{},{A:l})},314(o){o.exports=function(o){var e=[];return e.toString=function(){return this.map(function(e){var r="",n=void 0!==e[5];return e[4]&&(r+="@supports (".concat(e[4],") {")),e[2]&&(r+="@media ".concat(e[2]," {")),n&&(r+="@layer".concat(e[5].length>0?" ".concat(e[5]):""," {")),r+=o(e),n&&(r+="}"),e[2]&&(r+="}"),e[4]&&(r+="}"),r}).join("")},e.i=function(o,r,n,t,a){"string"==typeof o&&(o=[[null,o,void 0]]);var l={};if(n)for(var i=0;i<this.length;i++){var p=this[i][0];null!=p&&(l[p]=!0)}for(var s=0;s<o.length;s++){var d=[].concat(o[s]);n&&l[d[0]]||(void 0!==a&&(void 0===d[5]||(d[1]="@layer".concat(d[5].length>0?" ".concat(d[5]):""," {").concat(d[1],"}")),d[5]=a),r&&(d[2]&&(d[1]="@media ".concat(d[2]," {").concat(d[1],"}")),d[2]=r),t&&(d[4]?(d[1]="@supports (".concat(d[4],") {").concat(d[1],"}"),d[4]=t):d[4]="".concat(t)),e.push(d))}},e}},601(o){o.exports=function(o){return o[1]}},72(o){var e=[];function r(o){for(var r=-1,n=0;n<e.length;n++)if(e[n].identifier===o){r=n;break}return r}function n(o,n){for(var t={},a=[],l=0;l<o.length;l++){var i=o[l],p=n.base?i[0]+n.base:i[0],s=t[p]||0,d="".concat(p," ").concat(s);t[p]=s+1;var m=r(d),b={css:i[1],media:i[2],sourceMap:i[3],supports:i[4],layer:i[5]};if(-1!==m)e[m].references++,e[m].updater(b);else{var c=function(o,e){var r=e.domAPI(e);return r.update(o),function(e){e?(e.css!==o.css||e.media!==o.media||e.sourceMap!==o.sourceMap||e.supports!==o.supports||e.layer!==o.layer)&&r.update(o=e):r.remove()}}(b,n);n.byIndex=l,e.splice(l,0,{identifier:d,updater:c,references:1})}a.push(d)}return a}o.exports=function(o,t){var a=n(o=o||[],t=t||{});return function(o){o=o||[];for(var l=0;l<a.length;l++){var i=r(a[l]);e[i].references--}for(var p=n(o,t),s=0;s<a.length;s++){var d=r(a[s]);0===e[d].references&&(e[d].updater(),e.splice(d,1))}a=p}}},659(o){var e={};o.exports=function(o,r){var n=function(o){if(void 0===e[o]){var r=document.querySelector(o);if(window.HTMLIFrameElement&&r instanceof window.HTMLIFrameElement)try{r=r.contentDocument.head}catch(o){r=null}e[o]=r}return e[o]}(o);if(!n)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");n.appendChild(r)}},540(o){o.exports=function(o){var e=document.createElement("style");return o.setAttributes(e,o.attributes),o.insert(e,o.options),e}},56(o,e,r){o.exports=function(o){var e=r.nc;e&&o.setAttribute("nonce",e)}},825(o){o.exports=function(o){if("u"<typeof document)return{update:function(){},remove:function(){}};var e=o.insertStyleElement(o);return{update:function(r){var n,t,a;n="",r.supports&&(n+="@supports (".concat(r.supports,") {")),r.media&&(n+="@media ".concat(r.media," {")),(t=void 0!==r.layer)&&(n+="@layer".concat(r.layer.length>0?" ".concat(r.layer):""," {")),n+=r.css,t&&(n+="}"),r.media&&(n+="}"),r.supports&&(n+="}"),(a=r.sourceMap)&&"u">typeof btoa&&(n+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(a))))," */")),o.styleTagTransform(n,e,o.options)},remove:function(){var o;null===(o=e).parentNode||o.parentNode.removeChild(o)}}}},113(o){o.exports=function(o,e){if(e.styleSheet)e.styleSheet.cssText=o;else{for(;e.firstChild;)e.removeChild(e.firstChild);e.appendChild(document.createTextNode(o))}}},579(o,e,r){var n=r(72),t=r.n(n),a=r(825),l=r.n(a),i=r(659),p=r.n(i),s=r(56),d=r.n(s),m=r(540),b=r.n(m),c=r(113),f=r.n(c),u=r(475),v={};v.styleTagTransform=f(),v.setAttributes=d(),v.insert=p().bind(null,"head"),v.domAPI=l(),v.insertStyleElement=b(),t()(u.A,v),u.A&&u.A.locals&&u.A.locals}}]);