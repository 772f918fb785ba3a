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

  // 「獲取驗證碼」 comes back when the resend wait is over.
  document.querySelectorAll('button[data-enable-after]').forEach(function (btn) {
    var left = parseInt(btn.getAttribute('data-enable-after'), 10) || 0;
    var hint = btn.parentNode.querySelector('.resend-hint');
    var secs = hint ? hint.querySelector('.secs') : null;
    var timer = setInterval(function () {
      left -= 1;
      if (secs) secs.textContent = String(Math.max(left, 0));
      if (left <= 0) {
        clearInterval(timer);
        btn.disabled = false;
        if (hint) hint.hidden = true;
      }
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
