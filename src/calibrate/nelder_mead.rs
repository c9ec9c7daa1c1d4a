//! Nelder–Mead simplex minimisation: derivative-free, because the simulator's predictions are
//! piecewise smooth in its parameters (every roofline `max` is a kink), and deterministic, so
//! that a calibration run twice writes the same profile.
//!
//! The coefficients adapt to the dimension (Gao and Han, "Implementing the Nelder–Mead simplex
//! algorithm with adaptive parameters", 2012), which keeps the simplex from collapsing early in
//! six or more dimensions as the classic coefficients do.

/// Settings of one minimisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Edge of the initial simplex along each axis.
    pub step: f64,
    /// Most function evaluations.
    pub max_evals: usize,
    /// Converged when every vertex is within this distance of the best on every axis...
    pub xtol: f64,
    /// ...and the function values differ by at most this.
    pub ftol: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            step: 0.5,
            max_evals: 2000,
            xtol: 1e-6,
            ftol: 1e-12,
        }
    }
}

/// The best point found.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    /// Where.
    pub x: Vec<f64>,
    /// The function's value there.
    pub f: f64,
    /// Evaluations spent.
    pub evals: usize,
    /// Whether the tolerances were met before the evaluation budget ran out.
    pub converged: bool,
}

/// Minimises `f` from `x0`. A NaN value counts as +∞, so a function may refuse a point.
pub fn minimize(mut f: impl FnMut(&[f64]) -> f64, x0: &[f64], opts: &Options) -> Minimum {
    let n = x0.len();
    let evals = std::cell::Cell::new(0usize);
    let mut eval = |x: &[f64]| {
        evals.set(evals.get() + 1);
        let v = f(x);
        if v.is_nan() { f64::INFINITY } else { v }
    };
    if n == 0 {
        let v = eval(x0);
        return Minimum {
            x: Vec::new(),
            f: v,
            evals: 1,
            converged: true,
        };
    }
    let nf = n as f64;
    let (alpha, beta, gamma, delta) = (1.0, 1.0 + 2.0 / nf, 0.75 - 0.5 / nf, 1.0 - 1.0 / nf);

    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n + 1);
    simplex.push((x0.to_vec(), eval(x0)));
    for i in 0..n {
        let mut x = x0.to_vec();
        x[i] += opts.step;
        let v = eval(&x);
        simplex.push((x, v));
    }
    let mut converged = false;
    let point = |c: &[f64], d: &[f64], t: f64| -> Vec<f64> {
        c.iter().zip(d).map(|(c, d)| c + t * (d - c)).collect()
    };
    while evals.get() < opts.max_evals {
        // A stable sort keeps ties in vertex order, which keeps runs reproducible.
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let best = simplex[0].1;
        let spread_f = simplex[n].1 - best;
        let spread_x = simplex[1..]
            .iter()
            .flat_map(|(x, _)| x.iter().zip(&simplex[0].0).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        if spread_f <= opts.ftol && spread_x <= opts.xtol {
            converged = true;
            break;
        }
        let mut centroid = vec![0.0; n];
        for (x, _) in &simplex[..n] {
            for (c, v) in centroid.iter_mut().zip(x) {
                *c += v / nf;
            }
        }
        let worst = simplex[n].0.clone();
        let f_worst = simplex[n].1;
        let f_second = simplex[n - 1].1;
        let xr = point(&centroid, &worst, -alpha);
        let fr = eval(&xr);
        if fr < best {
            let xe = point(&centroid, &worst, -alpha * beta);
            let fe = eval(&xe);
            simplex[n] = if fe < fr { (xe, fe) } else { (xr, fr) };
            continue;
        }
        if fr < f_second {
            simplex[n] = (xr, fr);
            continue;
        }
        let (xc, fc, accept) = if fr < f_worst {
            let xc = point(&centroid, &worst, -alpha * gamma);
            let fc = eval(&xc);
            (xc, fc, fc <= fr)
        } else {
            let xc = point(&centroid, &worst, gamma);
            let fc = eval(&xc);
            (xc, fc, fc < f_worst)
        };
        if accept {
            simplex[n] = (xc, fc);
            continue;
        }
        let x_best = simplex[0].0.clone();
        for vertex in simplex.iter_mut().skip(1) {
            let x = point(&x_best, &vertex.0, delta);
            let v = eval(&x);
            *vertex = (x, v);
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (x, f) = simplex.swap_remove(0);
    Minimum {
        x,
        f,
        evals: evals.get(),
        converged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_a_rosenbrock_valley() {
        let rosen = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let m = minimize(
            rosen,
            &[-1.2, 1.0],
            &Options {
                max_evals: 5000,
                ..Options::default()
            },
        );
        assert!(m.converged);
        assert!(
            (m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] - 1.0).abs() < 1e-4,
            "{m:?}"
        );
    }

    #[test]
    fn six_dimensional_quadratic_and_nan_refusals() {
        let target = [0.3, -1.0, 2.0, 0.0, 5.0, -3.0];
        let f = |x: &[f64]| {
            if x[0] > 10.0 {
                return f64::NAN;
            }
            x.iter()
                .zip(&target)
                .enumerate()
                .map(|(i, (a, b))| (i as f64 + 1.0) * (a - b).powi(2))
                .sum::<f64>()
        };
        let m = minimize(f, &[0.0; 6], &Options::default());
        for (a, b) in m.x.iter().zip(&target) {
            assert!((a - b).abs() < 1e-4, "{m:?}");
        }
        let again = minimize(f, &[0.0; 6], &Options::default());
        assert_eq!(m, again, "deterministic");
    }
}
