// The run form's sample picker: a plate's box ticks all of its samples, and follows them
// (ticked when all are, half-ticked when some are); "Find" hides plates that do not match.
(function () {
  "use strict";
  function boxes(group) { return Array.from(group.querySelectorAll("input[name=samples]")); }

  function refresh(group) {
    const samples = boxes(group);
    const picked = samples.filter((box) => box.checked).length;
    const whole = group.querySelector("input.whole-plate");
    if (whole) {
      whole.checked = samples.length > 0 && picked === samples.length;
      whole.indeterminate = picked > 0 && picked < samples.length;
    }
    group.querySelector(".plate-picked").textContent = picked ? picked + " picked" : "";
  }

  function count(table) {
    const picked = table.querySelectorAll("input[name=samples]:checked").length;
    const plates = Array.from(table.querySelectorAll("tbody.plate-group")).filter(
      (group) => group.querySelector("input[name=samples]:checked")
    ).length;
    document.getElementById("picker-count").textContent =
      picked + " sample(s) picked" + (plates ? " on " + plates + " plate(s)" : "");
  }

  document.addEventListener("DOMContentLoaded", function () {
    const table = document.getElementById("sample-table");
    if (!table) return;
    const groups = Array.from(table.querySelectorAll("tbody.plate-group"));
    groups.forEach(function (group) {
      const whole = group.querySelector("input.whole-plate");
      if (whole && whole.checked) boxes(group).forEach((box) => { box.checked = true; });
      refresh(group);
      group.addEventListener("change", function (event) {
        if (event.target.classList.contains("whole-plate")) {
          boxes(group).forEach((box) => { box.checked = event.target.checked; });
        }
        refresh(group);
        count(table);
      });
    });
    count(table);
    // The button says what it will do: create, or create and start.
    const startNow = document.getElementById("id_start_now");
    const submit = document.getElementById("run-submit");
    function label() { submit.value = startNow.checked ? "Create and start" : "Create run"; }
    if (startNow && submit) { startNow.addEventListener("change", label); label(); }
    const find = document.getElementById("picker-find");
    function filter() {
      const text = find.value.trim().toLowerCase();
      groups.forEach(function (group) {
        group.classList.toggle("hidden", text !== "" && !group.dataset.find.toLowerCase().includes(text));
      });
    }
    find.addEventListener("input", filter);
    find.addEventListener("keydown", function (event) { if (event.key === "Enter") event.preventDefault(); });
    filter();
  });
})();

// The campaign page's plate list: "Find" hides plates that do not match; the count follows the ticks.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    const table = document.getElementById("plate-table");
    const find = document.getElementById("plate-find");
    if (!table || !find) return;
    const rows = Array.from(table.querySelectorAll("tr.plate-choice"));
    const counter = document.getElementById("plate-count");
    function count() {
      counter.textContent = table.querySelectorAll("input[name=plates]:checked").length + " plate(s) picked";
    }
    function filter() {
      const text = find.value.trim().toLowerCase();
      rows.forEach(function (row) {
        row.classList.toggle("hidden", text !== "" && !row.textContent.toLowerCase().includes(text));
      });
    }
    table.addEventListener("change", count);
    find.addEventListener("input", filter);
    find.addEventListener("keydown", function (event) { if (event.key === "Enter") event.preventDefault(); });
    count();
    filter();
  });
})();
