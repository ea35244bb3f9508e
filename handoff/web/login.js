"use strict";
document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  try {
    await api("POST", "/api/login", {
      email: document.getElementById("email").value,
      password: document.getElementById("password").value,
    });
    location.href = "/";
  } catch (err) {
    showError(err.status === 429 ? "Too many attempts. Try again later." : err.message);
  }
});
