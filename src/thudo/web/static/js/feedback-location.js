// "Use my current location" on the report form: fills latitude and longitude from the
// browser's geolocation (no map, no external service). Without JavaScript the fields stay.
(function () {
  "use strict";
  function init() {
    var button = document.getElementById("use-location");
    var status = document.getElementById("location-status");
    var lat = document.getElementById("lat");
    var lon = document.getElementById("lon");
    if (!button || !lat || !lon || !("geolocation" in navigator)) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      status.textContent = button.dataset.waiting || "…";
      navigator.geolocation.getCurrentPosition(
        function (pos) {
          lat.value = pos.coords.latitude.toFixed(6);
          lon.value = pos.coords.longitude.toFixed(6);
          status.textContent = "✓";
        },
        function () { status.textContent = "✗"; },
        { enableHighAccuracy: true, timeout: 15000 }
      );
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
