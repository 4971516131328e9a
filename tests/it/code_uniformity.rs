//! Generated codes are uniform per position: a chi-square goodness-of-fit
//! test per alphabet and position, with a family-wise false-alarm rate
//! below 1e-6 (Bonferroni), and a check that the same test does catch the
//! modulo bias of a naive generator.

use otpbench::engine::code::{Alphabet, Code};

const SAMPLES: usize = 60_000;
/// The biased generator's test gets more samples: at 60,000 its expected
/// statistic (~150 for 35 degrees of freedom) sits only ~2.5 standard
/// deviations above the critical value (~95), so it would miss about one
/// run in forty; at 300,000 it is more than ten above.
const BIASED_SAMPLES: usize = 300_000;
/// Family-wise false-alarm rate of the whole test.
const FALSE_ALARM: f64 = 1e-6;

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = x - 1.0;
    let mut sum = G[0];
    for (i, g) in G.iter().enumerate().skip(1) {
        sum += g / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// Upper regularised incomplete gamma Q(a, x): the chi-square survival
/// function is Q(df / 2, stat / 2).
fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let prefix = (-x + a * x.ln() - ln_gamma(a)).exp();
    if x < a + 1.0 {
        // Series for P, then Q = 1 - P.
        let (mut term, mut sum, mut n) = (1.0 / a, 1.0 / a, a);
        while term.abs() > sum.abs() * 1e-15 {
            n += 1.0;
            term *= x / n;
            sum += term;
        }
        1.0 - sum * prefix
    } else {
        // Continued fraction for Q (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            d = if d.abs() < tiny { tiny } else { d };
            c = b + an / c;
            c = if c.abs() < tiny { tiny } else { c };
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-15 {
                break;
            }
        }
        prefix * h
    }
}

/// The p-value of per-position uniformity for `codes` over `symbols`.
fn p_values(codes: &[Vec<u8>], symbols: &[u8]) -> Vec<f64> {
    let length = codes[0].len();
    (0..length)
        .map(|position| {
            let mut counts = vec![0usize; symbols.len()];
            for code in codes {
                let at = symbols.iter().position(|&s| s == code[position]).unwrap();
                counts[at] += 1;
            }
            let expected = codes.len() as f64 / symbols.len() as f64;
            let stat: f64 = counts
                .iter()
                .map(|&n| (n as f64 - expected).powi(2) / expected)
                .sum();
            let df = (symbols.len() - 1) as f64;
            gamma_q(df / 2.0, stat / 2.0)
        })
        .collect()
}

#[test]
fn chi_square_helper_matches_known_quantiles() {
    // Tabulated chi-square critical values: (df, x, upper tail).
    for (df, x, tail) in [
        (9.0, 16.919, 0.05),
        (9.0, 27.877, 0.001),
        (35.0, 49.802, 0.05),
    ] {
        let q = gamma_q(df / 2.0, x / 2.0);
        assert!((q - tail).abs() < tail * 0.01, "df {df} x {x}: {q}");
    }
}

#[test]
fn codes_are_uniform_at_every_position() {
    let cases = [
        (Alphabet::Numeric, 6),
        (Alphabet::Alpha, 4),
        (Alphabet::Alphanumeric, 4),
    ];
    let tests: usize = cases.iter().map(|(_, len)| len).sum();
    let alpha = FALSE_ALARM / tests as f64;
    for (alphabet, length) in cases {
        let codes: Vec<Vec<u8>> = (0..SAMPLES)
            .map(|_| {
                Code::generate(alphabet, length)
                    .as_str()
                    .as_bytes()
                    .to_vec()
            })
            .collect();
        for (position, p) in p_values(&codes, alphabet.symbols()).into_iter().enumerate() {
            assert!(p > alpha, "{alphabet:?} position {position}: p = {p:e}");
        }
    }
}

#[test]
fn the_test_catches_modulo_bias() {
    // byte % 36 favours the first 256 % 36 = 4 symbols by 8/7: a generator
    // with that bias must fail the same threshold.
    let symbols = Alphabet::Alphanumeric.symbols();
    let codes: Vec<Vec<u8>> = (0..BIASED_SAMPLES)
        .map(|_| {
            let bytes: [u8; 4] = rand::random();
            bytes
                .iter()
                .map(|b| symbols[*b as usize % symbols.len()])
                .collect()
        })
        .collect();
    let alpha = FALSE_ALARM / 14.0;
    for p in p_values(&codes, symbols) {
        assert!(p < alpha, "biased generator passed: p = {p:e}");
    }
}
