// The review queue (templates/office/review.html): a "select all on this
// page" checkbox in the table's header, the page's select button toggled in
// place, and a running count of what is ticked. Without this script the
// header link and the button reload the page with every box ticked
// (?select=page), so nothing here is needed to select a page.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("review-form");
  const cell = document.getElementById("select-all-cell");
  if (!form || !cell) return;
  const boxes = Array.from(form.querySelectorAll("input[type=checkbox][name=record]"));
  const pageButton = document.getElementById("select-page");
  const counter = document.getElementById("selected-count");

  const all = document.createElement("input");
  all.type = "checkbox";
  all.id = "select-all";
  all.setAttribute("aria-label", "全选本页");
  all.title = "全选本页";
  cell.replaceChildren(all);

  function refresh() {
    const ticked = boxes.filter((b) => b.checked).length;
    all.checked = ticked > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
    if (counter) {
      counter.hidden = false;
      counter.textContent = `已选 ${ticked} / ${boxes.length} 条`;
    }
    if (pageButton) {
      pageButton.textContent = all.checked ? "取消选择本页" : `选择本页全部 ${boxes.length} 条`;
    }
  }

  function setAll(on) {
    for (const b of boxes) b.checked = on;
    refresh();
  }

  all.addEventListener("change", () => setAll(all.checked));
  for (const b of boxes) b.addEventListener("change", refresh);
  if (pageButton) {
    pageButton.addEventListener("click", (event) => {
      event.preventDefault(); // toggled here: no reload, and what is ticked stays ticked
      setAll(!all.checked);
    });
  }
  refresh();
});
