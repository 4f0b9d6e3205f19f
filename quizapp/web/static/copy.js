// "Copy the code" on the result page: shown only where the browser can copy; the code itself
// is plain selectable text without JavaScript. Same-origin, as the Content-Security-Policy asks.
for (const button of document.querySelectorAll("button[data-copy]")) {
  if (!navigator.clipboard) continue;
  const source = document.getElementById(button.dataset.copy);
  const status = button.parentElement.querySelector(".copied");
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText((source.value ?? source.textContent).trim());
      status.textContent = "Copied.";
    } catch {
      status.textContent = "Could not copy: select the code and copy it yourself.";
    }
  });
}
