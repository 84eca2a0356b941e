// The nbmlops run table (anywidget). Python sends the visible columns and the rows as
// cell texts (nbmlops/widgets/_grid.py decides groups, order, formatting); this module only
// draws one <table> from them and reports clicks back: sort (a message), selection and the
// constant-column toggle (synced traits), the column chooser (a message).

const STATUS = {
  FINISHED: "nbmlops-ok",
  RUNNING: "nbmlops-running",
  FAILED: "nbmlops-failed",
  KILLED: "nbmlops-killed",
};

const PLAIN = ["attributes", "params", "metrics", "tags"];

function node(tag, props = {}, children = []) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "className") element.className = value;
    else if (key === "text") element.textContent = value;
    else if (key.startsWith("data-") || key === "title" || key === "type" || key === "colspan")
      element.setAttribute(key, value);
    else element[key] = value;
  }
  for (const child of children) if (child) element.append(child);
  return element;
}

function render({ model, el }) {
  el.classList.add("nbmlops-grid");
  const chooser = node("details", { className: "nbmlops-grid-chooser" }, [
    node("summary", { text: "Columns" }),
  ]);
  const menu = node("div", { className: "nbmlops-grid-menu" });
  chooser.append(menu);
  const constantBox = node("input", { type: "checkbox", className: "nbmlops-grid-constant" });
  const constantText = node("span");
  const constantLabel = node("label", { className: "nbmlops-grid-toggle" }, [
    constantBox,
    constantText,
  ]);
  const bar = node("div", { className: "nbmlops-grid-bar" }, [chooser, constantLabel]);
  const scroll = node("div", { className: "nbmlops-grid-scroll" });
  el.append(bar, scroll);

  constantBox.addEventListener("change", () => {
    model.set("show_constant", constantBox.checked);
    model.save_changes();
  });
  menu.addEventListener("change", (event) => {
    const key = event.target.getAttribute("data-key");
    if (key) model.send({ event: "column", key, shown: event.target.checked });
  });
  const closeChooser = (event) => {
    if (chooser.open && !chooser.contains(event.target)) chooser.open = false;
  };
  document.addEventListener("click", closeChooser);

  function drawBar() {
    const constant = model.get("constant_count");
    constantBox.checked = model.get("show_constant");
    constantText.textContent = ` show constant columns (${constant})`;
    constantLabel.title =
      "columns holding one value across the runs on this page (captured model params: where set)";
    constantLabel.style.display = constant ? "" : "none";
    const groups = new Map();
    for (const choice of model.get("choices")) {
      if (!groups.has(choice.group_label)) groups.set(choice.group_label, []);
      groups.get(choice.group_label).push(choice);
    }
    menu.replaceChildren(
      ...[...groups].map(([label, choices]) =>
        node("fieldset", {}, [
          node("legend", { text: label }),
          ...choices.map((choice) =>
            node("label", { title: choice.key }, [
              node("input", {
                type: "checkbox",
                checked: choice.shown,
                "data-key": choice.key,
              }),
              node("span", { text: ` ${choice.label}` }),
              choice.constant ? node("span", { className: "nbmlops-grid-same", text: " same" }) : null,
            ]),
          ),
        ]),
      ),
    );
  }

  function drawTable() {
    const columns = model.get("columns");
    const rows = model.get("rows");
    const selectable = model.get("selectable");
    const selected = new Set(model.get("selected"));
    const order = model.get("order_by");
    const groupRow = node("tr", { className: "nbmlops-grid-groups" });
    const headRow = node("tr", { className: "nbmlops-grid-heads" });
    if (selectable) {
      groupRow.append(node("th", { className: "nbmlops-sel" }));
      headRow.append(node("th", { className: "nbmlops-sel" }));
    }
    let i = 0;
    while (i < columns.length) {
      let span = 1;
      while (i + span < columns.length && columns[i + span].group === columns[i].group) span++;
      groupRow.append(
        node("th", {
          colspan: span,
          className: `nbmlops-group nbmlops-group-${PLAIN.includes(columns[i].group) ? columns[i].group : "captured"}`,
          text: columns[i].group_label,
          title: columns[i].group_label,
        }),
      );
      i += span;
    }
    for (const column of columns) {
      let label = column.label;
      if (order.length && order[0] === column.key) label += order[1] ? " ▼" : " ▲";
      headRow.append(
        node("th", {
          className: `nbmlops-head nbmlops-${column.align} nbmlops-col-${column.kind}`,
          "data-key": column.key,
          title: `${column.key} (click to sort)`,
          text: label,
        }),
      );
    }
    const body = node("tbody");
    for (const row of rows) {
      const tr = node("tr", { className: "nbmlops-grid-row", "data-id": row.id });
      if (selected.has(row.id)) tr.classList.add("nbmlops-selected");
      if (selectable) {
        const box = node("input", { type: "checkbox", checked: selected.has(row.id) });
        box.setAttribute("aria-label", `select run ${row.id.slice(0, 8)}`);
        tr.append(node("td", { className: "nbmlops-sel" }, [box]));
      }
      columns.forEach((column, j) => {
        const value = row.cells[j];
        const td = node("td", {
          className: `nbmlops-${column.align} nbmlops-col-${column.kind}`,
          "data-key": column.key,
        });
        if (column.kind === "status") {
          td.append(node("span", { className: `nbmlops-badge ${STATUS[value] || ""}`, text: value }));
          td.title = value;
        } else if (column.kind === "id") {
          td.append(node("code", { text: value }));
          td.title = row.id;
        } else {
          td.textContent = value;
          td.title = value;
        }
        tr.append(td);
      });
      body.append(tr);
    }
    if (!rows.length) {
      body.append(
        node("tr", {}, [
          node("td", {
            colspan: columns.length + (selectable ? 1 : 0),
            className: "nbmlops-grid-empty",
            text: model.get("empty_text"),
          }),
        ]),
      );
    }
    const table = node("table", { className: "nbmlops-runs" }, [
      node("thead", {}, [groupRow, headRow]),
      body,
    ]);
    const left = scroll.scrollLeft;
    scroll.replaceChildren(table);
    scroll.scrollLeft = left;
  }

  scroll.addEventListener("click", (event) => {
    const head = event.target.closest("th[data-key]");
    if (head) model.send({ event: "sort", key: head.getAttribute("data-key") });
  });
  scroll.addEventListener("change", (event) => {
    const row = event.target.closest("tr[data-id]");
    if (!row || event.target.type !== "checkbox") return;
    const id = row.getAttribute("data-id");
    const selected = model.get("selected").filter((x) => x !== id);
    if (event.target.checked) selected.push(id);
    model.set("selected", selected);
    model.save_changes();
  });

  const redraw = () => {
    drawBar();
    drawTable();
  };
  model.on("change:columns", redraw);
  model.on("change:rows", drawTable);
  model.on("change:selected", drawTable);
  model.on("change:order_by", drawTable);
  model.on("change:choices", drawBar);
  model.on("change:show_constant", drawBar);
  model.on("change:constant_count", drawBar);
  redraw();
  return () => document.removeEventListener("click", closeChooser);
}

export default { render };
