// The public map of reports (Leaflet, vendored). The whole city: one circle per ward, sized
// by its count; zoomed in (a box at most data-max-span degrees): the reports themselves.
// Texts come from the page (data-t-*) in the visitor's language. Without JavaScript the
// page's table holds the same counts.
(function () {
  "use strict";

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  function element(tag, text, className) {
    var el = document.createElement(tag);
    if (text !== undefined) el.textContent = text;
    if (className) el.className = className;
    return el;
  }

  function link(href, text) {
    var a = element("a", text);
    a.href = href;
    return a;
  }

  function init() {
    var box = document.getElementById("report-map");
    if (!box || typeof L === "undefined") return;
    var d = box.dataset;
    var status = document.getElementById("map-status");
    var maxSpan = parseFloat(d.maxSpan);
    var locale = d.lang === "en" ? "en-GB" : "vi-VN";
    var map = L.map(box, { center: [parseFloat(d.lat), parseFloat(d.lon)], zoom: 11, minZoom: 9, maxZoom: 18 });
    map.attributionControl.setPrefix(false); // Leaflet's licence is kept in the vendored file
    if (d.tiles) {
      L.tileLayer(d.tiles, {
        maxZoom: 19,
        attribution: escapeHtml(d.attribution || ""),
        referrerPolicy: "strict-origin-when-cross-origin",
      }).addTo(map);
    }
    var layer = L.layerGroup().addTo(map);
    var wards = null; // fetched once: counts change slowly (the server keeps them a minute)
    var asked = 0;

    function say(text) { status.textContent = text; }

    function getJson(url) {
      return fetch(url, { headers: { Accept: "application/geo+json" } }).then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.json();
      });
    }

    function showWards(data) {
      layer.clearLayers();
      var most = 1;
      data.features.forEach(function (f) { most = Math.max(most, f.properties.total); });
      data.features.forEach(function (f) {
        var p = f.properties, at = [f.geometry.coordinates[1], f.geometry.coordinates[0]];
        var counted = fill(d.tWard, { total: p.total.toLocaleString(locale), open: p.open.toLocaleString(locale) });
        var circle = L.circleMarker(at, {
          radius: 6 + 18 * Math.sqrt(p.total / most), color: "#0b4f8a", weight: 2, fillOpacity: 0.35,
        });
        var popup = element("div", undefined, "map-popup");
        popup.appendChild(element("p", p.ward_name)).className = "map-popup-title";
        popup.appendChild(element("p", counted));
        popup.appendChild(element("p")).appendChild(link(p.url, d.tList));
        var zoom = popup.appendChild(element("p")).appendChild(element("button", d.tZoom, "button button-secondary"));
        zoom.type = "button";
        zoom.addEventListener("click", function () { map.setView(at, 14); });
        circle.bindTooltip(p.ward_name + ": " + counted).bindPopup(popup).addTo(layer);
      });
      say(fill(d.tWards, { total: data.total.toLocaleString(locale) }));
    }

    function showReports(data) {
      layer.clearLayers();
      data.features.forEach(function (f) {
        var p = f.properties, at = [f.geometry.coordinates[1], f.geometry.coordinates[0]];
        var circle = L.circleMarker(at, {
          radius: 8, weight: 2, fillOpacity: 0.7,
          color: p.open ? "#0b4f8a" : "#595959", fillColor: p.open ? "#2f7fc1" : "#9a9a9a",
        });
        var popup = element("div", undefined, "map-popup");
        popup.appendChild(element("p")).appendChild(link(p.url, p.code));
        popup.appendChild(element("p", p.category_name));
        popup.appendChild(element("p", p.status_name + " · " + p.ward_name));
        popup.appendChild(element("p", d.tSent + " " +
          new Date(p.created_at).toLocaleDateString(locale, { timeZone: "Asia/Ho_Chi_Minh" })));
        circle.bindTooltip(p.code + " · " + p.category_name).bindPopup(popup).addTo(layer);
      });
      reports = data;
      tell();
    }

    var reports = null; // the last reports fetched: the status counts those in view

    function tell() {
      var view = map.getBounds(), n = 0;
      reports.features.forEach(function (f) {
        if (view.contains([f.geometry.coordinates[1], f.geometry.coordinates[0]])) n += 1;
      });
      say(fill(reports.truncated ? d.tTruncated : d.tReports, { n: n.toLocaleString(locale) }));
    }

    // What is on the map: "wards", or the box whose reports were fetched (a little larger
    // than the view, so that panning a bit, or a popup panning into view, fetches nothing).
    var shown = null, shownAll = false;

    function edges(bounds) {
      return [Math.max(bounds.getWest(), -180), Math.max(bounds.getSouth(), -90),
        Math.min(bounds.getEast(), 180), Math.min(bounds.getNorth(), 90)];
    }

    function fits(b) { return b[2] - b[0] <= maxSpan && b[3] - b[1] <= maxSpan; }

    function update() {
      var view = map.getBounds(), mine = ++asked, work;
      if (!fits(edges(view))) {
        if (shown === "wards") return;
        work = (wards ? Promise.resolve(wards) : getJson(d.wardsUrl)).then(function (data) {
          wards = data;
          if (mine === asked) { shown = "wards"; showWards(data); }
        });
      } else {
        if (shown && shown !== "wards" && shownAll && shown.contains(view)) { tell(); return; }
        var wider = view.pad(0.25), b = edges(wider);
        if (!fits(b)) { wider = view; b = edges(view); }
        var bbox = b.map(function (v) { return v.toFixed(5); }).join(",");
        work = getJson(d.reportsUrl + (/\?$/.test(d.reportsUrl) ? "" : "&") + "bbox=" + bbox)
          .then(function (data) {
            if (mine !== asked) return;
            shown = wider; shownAll = !data.truncated;
            showReports(data);
          });
      }
      work.catch(function () { if (mine === asked) say(d.tFailed); });
    }

    map.on("moveend", update);
    update();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
