// "Print them" on the recovery codes page: only where JavaScript runs (the browser's own
// print command does the same; the print stylesheet shows the codes alone).
for (const button of document.querySelectorAll("button[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
