// The script of opbench's HTML page (reports/html_report.cpp), compiled in at build time
// (cmake/embed.cmake) and pasted into every page; it must not close the script element.
// Sortable tables: a click on a header sorts the body by that column (numeric by data-v where the
// header says data-type="num", else natural text order); a second click reverses. Unknown numbers
// sort last either way.
(function () {
  function key(row, col) {
    var cell = row.cells[col];
    if (!cell) return "";
    var v = cell.getAttribute("data-v");
    return v === null ? cell.textContent.trim() : v;
  }
  function sortBy(table, col, th) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute("aria-sort");
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var numeric = th.getAttribute("data-type") === "num";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a, col), y = key(b, col);
      if (numeric) {
        var fx = parseFloat(x), fy = parseFloat(y), nx = isNaN(fx), ny = isNaN(fy);
        if (nx || ny) return nx === ny ? 0 : (nx ? 1 : -1);
        return asc ? fx - fy : fy - fx;
      }
      var c = x.localeCompare(y, undefined, {numeric: true});
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    body.classList.add("sorted");
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.addEventListener("click", function () { sortBy(table, col, th); });
    });
  });
})();
