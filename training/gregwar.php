<?php
// Gregwar's CaptchaBuilder (Debian php-gregwar-captcha) as a line-by-line service for
// training/generators.py: each input line "seed digits width height quality" is answered
// with one line, the JPEG in base64. mt_srand(seed) makes each captcha reproducible.
require_once 'Gregwar/Captcha/autoload.php';

use Gregwar\Captcha\CaptchaBuilder;

while (($line = fgets(STDIN)) !== false) {
    [$seed, $digits, $width, $height, $quality] = explode(' ', trim($line));
    mt_srand((int) $seed);
    $builder = new CaptchaBuilder($digits);
    $builder->build((int) $width, (int) $height);
    echo base64_encode($builder->get((int) $quality)), "\n";
    flush();
}
