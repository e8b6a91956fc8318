// The live run page: htmx swaps in the polled fragment (#run-live). A response that is not that
// fragment (the login page after the session expired, an error page) is not swapped into the
// page; the page says that its updates stopped instead.
document.addEventListener("htmx:beforeSwap", function (event) {
  const target = event.detail.target;
  if (!target || target.id !== "run-live") return;
  const fragment = event.detail.xhr.responseText || "";
  if (event.detail.xhr.status < 400 && fragment.trimStart().startsWith('<div id="run-live"')) return;
  event.detail.shouldSwap = false;
  target.removeAttribute("hx-trigger");
  htmx.process(target);
  target.querySelector(".run-updating")?.remove();
  if (!document.getElementById("run-live-stopped")) {
    const note = document.createElement("p");
    note.id = "run-live-stopped";
    note.className = "run-note run-decision";
    note.textContent = "This page stopped updating (signed out, or the server did not answer). Reload it to go on.";
    target.prepend(note);
  }
});
