// npm 2captcha (furry/2captcha) as its README uses it; it always calls https://2captcha.com.
//     node drive_2captcha.js KEY CAPTCHA UNREADABLE [--advice]   -> one JSON line (bench/solver_clients.py)
// --advice: a pollingFrequency of 250 ms (by default it waits 5 s before each poll, the first included).
"use strict";
const fs = require("fs");
const { Solver, APIError } = require("2captcha");

const [key, captcha, unreadable, advice] = process.argv.slice(2);

(async () => {
    const solver = advice === "--advice" ? new Solver(key, 250) : new Solver(key);
    const started = performance.now();
    const answer = await solver.imageCaptcha(fs.readFileSync(captcha, "base64"));
    const seconds = (performance.now() - started) / 1000;
    await solver.report(answer.id); // resolves with nothing, throws an APIError if refused
    let refused = null;
    try {
        await solver.imageCaptcha(fs.readFileSync(unreadable, "base64"));
    } catch (error) {
        if (!(error instanceof APIError)) throw error;
        refused = error.err;
    }
    console.log(JSON.stringify({ read: answer.data, seconds, refused, balance: await solver.balance(), reported: true }));
})();
