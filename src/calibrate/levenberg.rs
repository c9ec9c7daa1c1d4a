//! Levenberg–Marquardt on a residual vector, with a forward-difference Jacobian whose columns
//! are evaluated in parallel: the minimiser for fits of tens of figures, where the residuals
//! (log errors of predicted rates against log-rates) are close to linear.

use rayon::prelude::*;

use crate::calibrate::nelder_mead::Minimum;

/// Step of the forward differences, in the parameters' (logarithmic) units.
const STEP: f64 = 1e-4;

/// Minimises `½‖r(x)‖²` from `x0`; `r` returns `None` where the model cannot be evaluated
/// (treated as an infinitely bad point). Deterministic: the Jacobian's columns are gathered
/// in order whatever the thread count.
pub fn minimize<F>(r: F, x0: &[f64], max_evals: usize) -> Minimum
where
    F: Fn(&[f64]) -> Option<Vec<f64>> + Sync,
{
    let loss = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>();
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut evals = 1;
    let Some(mut res) = r(&x) else {
        return Minimum {
            x,
            f: f64::INFINITY,
            evals,
            converged: false,
        };
    };
    let mut f = loss(&res);
    let mut lambda = 1e-3;
    let mut converged = false;
    while evals < max_evals {
        let cols: Vec<Option<Vec<f64>>> = (0..n)
            .into_par_iter()
            .map(|j| {
                // Forward, or backward where the forward step changes nothing (a parameter at
                // the upper end of its range, where the model clamps it).
                let column = |h: f64| {
                    let mut xj = x.clone();
                    xj[j] += h;
                    r(&xj).map(|rj| {
                        rj.iter()
                            .zip(&res)
                            .map(|(a, b)| (a - b) / h)
                            .collect::<Vec<f64>>()
                    })
                };
                let forward = column(STEP)?;
                if forward.iter().all(|v| *v == 0.0) {
                    column(-STEP)
                } else {
                    Some(forward)
                }
            })
            .collect();
        evals += n;
        let Some(jac) = cols.into_iter().collect::<Option<Vec<Vec<f64>>>>() else {
            break;
        };
        let mut jtj = vec![vec![0.0; n]; n];
        let mut jtr = vec![0.0; n];
        for a in 0..n {
            jtr[a] = jac[a].iter().zip(&res).map(|(p, q)| p * q).sum();
            for b in a..n {
                let v: f64 = jac[a].iter().zip(&jac[b]).map(|(p, q)| p * q).sum();
                jtj[a][b] = v;
                jtj[b][a] = v;
            }
        }
        let mut improved = false;
        while evals < max_evals && lambda < 1e12 {
            let mut m = jtj.clone();
            for (i, row) in m.iter_mut().enumerate() {
                row[i] += lambda * (jtj[i][i] + 1e-12);
            }
            let Some(inv) = crate::calibrate::fit::invert(m) else {
                lambda *= 10.0;
                continue;
            };
            let step: Vec<f64> = (0..n)
                .map(|i| -(0..n).map(|k| inv[i][k] * jtr[k]).sum::<f64>())
                .collect();
            let trial: Vec<f64> = x.iter().zip(&step).map(|(a, d)| a + d).collect();
            evals += 1;
            match r(&trial) {
                Some(rt) if loss(&rt) < f => {
                    let gain = f - loss(&rt);
                    x = trial;
                    res = rt;
                    f = loss(&res);
                    lambda = (lambda / 3.0).max(1e-9);
                    improved = true;
                    if gain <= 1e-12 * (1.0 + f) {
                        converged = true;
                    }
                    break;
                }
                _ => lambda *= 4.0,
            }
        }
        if !improved || converged {
            converged = converged || !improved;
            break;
        }
    }
    Minimum {
        x,
        f,
        evals,
        converged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_line_exactly_and_rosenbrock_closely() {
        let xs = [0.0, 1.0, 2.0, 3.0];
        let line = |p: &[f64]| {
            Some(
                xs.iter()
                    .map(|x| p[0] + p[1] * x - (1.0 + 2.0 * x))
                    .collect(),
            )
        };
        let m = minimize(line, &[0.0, 0.0], 200);
        approx::assert_abs_diff_eq!(m.x[0], 1.0, epsilon = 1e-6);
        approx::assert_abs_diff_eq!(m.x[1], 2.0, epsilon = 1e-6);
        let rosen = |p: &[f64]| Some(vec![10.0 * (p[1] - p[0] * p[0]), 1.0 - p[0]]);
        let m = minimize(rosen, &[-1.2, 1.0], 5000);
        approx::assert_abs_diff_eq!(m.x[0], 1.0, epsilon = 1e-3);
        approx::assert_abs_diff_eq!(m.x[1], 1.0, epsilon = 1e-3);
    }
}
