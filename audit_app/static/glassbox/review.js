// The sign-off form: a reason is required unless the signature means "approved". The server checks this
// too (services/review.py); this only says so before the round trip. A file, not inline: the CSP allows no inline script.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("sign-off-form");
  const reason = document.getElementById("reason");
  if (!form || !reason) return;
  const update = () => {
    const chosen = form.querySelector('input[name="meaning"]:checked');
    reason.required = chosen !== null && chosen.value !== "approved";
  };
  form.querySelectorAll('input[name="meaning"]').forEach((radio) => radio.addEventListener("change", update));
  update();
});
