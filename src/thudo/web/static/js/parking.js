// "Tìm quanh vị trí của tôi": asks the browser for the position, then submits the form.
(function () {
  var button = document.getElementById("near-me");
  if (!button) return;
  var form = document.getElementById("near-form");
  var status = document.getElementById("near-status");
  button.addEventListener("click", function () {
    if (!navigator.geolocation) {
      status.textContent = button.dataset.denied;
      return;
    }
    status.textContent = button.dataset.locating;
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        document.getElementById("lat").value = pos.coords.latitude.toFixed(6);
        document.getElementById("lon").value = pos.coords.longitude.toFixed(6);
        form.submit();
      },
      function () { status.textContent = button.dataset.denied; },
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 }
    );
  });
})();
