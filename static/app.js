// certrenew: the little script the pages use. Loaded as a file (the CSP forbids inline script);
// every page works without it.
(function () {
  'use strict';

  // Countdown of a code's validity, from the seconds the server computed (not the browser's clock).
  document.querySelectorAll('.countdown[data-seconds]').forEach(function (el) {
    var left = parseInt(el.getAttribute('data-seconds'), 10) || 0;
    var secs = el.querySelector('.secs');
    var timer = setInterval(function () {
      left -= 1;
      if (left <= 0) {
        clearInterval(timer);
        el.textContent = el.getAttribute('data-expired');
        el.classList.add('expired');
        return;
      }
      secs.textContent = String(left);
    }, 1000);
  });

  // A form that needs its box ticked explains instead of submitting.
  document.querySelectorAll('form.needs-tick').forEach(function (form) {
    form.addEventListener('submit', function (ev) {
      var box = form.querySelector('input[type=checkbox]');
      if (box && !box.checked) {
        ev.preventDefault();
        var p = form.querySelector('.explain');
        p.textContent = form.getAttribute('data-explain');
        p.hidden = false;
      }
    });
  });
})();
