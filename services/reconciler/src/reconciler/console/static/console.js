// Progressive touches only: every page works without this file.
// After htmx swaps a results table in, tell screen-reader users how many rows arrived.
document.addEventListener("htmx:afterSwap", function (event) {
  var status = document.getElementById("results-status");
  var table = event.target.querySelector ? event.target.querySelector("[data-count]") : null;
  if (status && table) {
    status.textContent = table.getAttribute("data-count") + " item(s) shown";
  }
});
