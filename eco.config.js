// PM2 process file: `make pm2-start`, or `node_modules/.bin/pm2 start eco.config.js`.
// Paths are relative to this file, so it works wherever the repository is cloned.
const path = require("path");

module.exports = {
  apps: [
    {
      name: "captcha-ocr",
      script: path.join(__dirname, "wsgi.py"),
      // The virtualenv that `make serve` / `make test` create; CAPTCHA_OCR_PYTHON points elsewhere.
      interpreter: process.env.CAPTCHA_OCR_PYTHON || path.join(__dirname, ".venv", "bin", "python"),
      cwd: __dirname,
      exec_mode: "fork", // cluster mode is for Node.js programs only
      // CAPTCHA_OCR_INSTANCES=N runs N processes on PORT, PORT+1, ... (put deploy/nginx.conf in front).
      instances: Number(process.env.CAPTCHA_OCR_INSTANCES || 1),
      increment_var: "PORT",
      autorestart: true,
      max_memory_restart: "1G", // PM2 polls the memory of this process every 30 s
      kill_timeout: 15000, // ms from SIGINT to SIGKILL: time for requests in flight to finish
      env: {
        HOST: process.env.HOST || "127.0.0.1",
        PORT: process.env.PORT || "8000",
        ORT_LOGGING_LEVEL: "3",
        TRUSTED_PROXY: process.env.TRUSTED_PROXY || "",
        PYTHONUNBUFFERED: "1",
      },
    },
  ],
};
