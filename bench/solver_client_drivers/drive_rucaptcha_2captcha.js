// rucaptcha-2captcha as its README uses it, for 2captcha (its second argument 2; without it, rucaptcha.com): it
// always calls https://2captcha.com, and waits 5 s before its first poll (no setting changes that).
//     node drive_rucaptcha_2captcha.js KEY CAPTCHA UNREADABLE   -> one JSON line (bench/solver_clients.py)
"use strict";
const RuCaptcha2Captcha = require("rucaptcha-2captcha");

const [key, captcha, unreadable] = process.argv.slice(2);

(async () => {
    const solver = new RuCaptcha2Captcha(key, 2);
    const started = performance.now();
    const answer = await solver.solve({ url: captcha }); // a file's path (or an image URL)
    const seconds = (performance.now() - started) / 1000;
    const reported = await answer.tokenIsBad();
    let refused = null;
    try {
        await solver.solve({ url: unreadable });
    } catch (error) {
        if (!/^ERROR_/.test(error.name)) throw error; // its errors are named by the service's error code
        refused = error.name;
    }
    console.log(JSON.stringify({ read: answer.token, seconds, refused, balance: Number(await solver.getBalance()),
                                 reported: reported.request === "OK_REPORT_RECORDED" }));
})();
