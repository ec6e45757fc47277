// @antiadmin/anticaptchaofficial (anti-captcha's own npm library) as its README uses it; it always calls
// https://api.anti-captcha.com.
//     node drive_antiadmin_anticaptchaofficial.js KEY CAPTCHA UNREADABLE [--advice]   -> one JSON line (bench/solver_clients.py)
// --advice: firstAttemptWaitingInterval = 0 (by default it waits 5 s before its first poll).
"use strict";
const fs = require("fs");
const ac = require("@antiadmin/anticaptchaofficial");

const [key, captcha, unreadable, advice] = process.argv.slice(2);

(async () => {
    ac.setAPIKey(key);
    ac.shutUp();
    if (advice === "--advice") ac.settings.firstAttemptWaitingInterval = 0;
    const started = performance.now();
    const read = await ac.solveImage(fs.readFileSync(captcha, { encoding: "base64" }));
    const seconds = (performance.now() - started) / 1000;
    const reported = await ac.reportIncorrectImageCaptcha();
    let refused = null;
    try {
        await ac.solveImage(fs.readFileSync(unreadable, { encoding: "base64" }));
    } catch (error) {
        refused = error; // it throws the error code, a string
    }
    console.log(JSON.stringify({ read, seconds, refused, balance: await ac.getBalance(), reported: reported === true }));
})();
