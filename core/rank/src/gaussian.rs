//! A Gaussian in natural parameters (precision `pi`, precision-adjusted mean `tau`), the form
//! in which messages multiply and divide by adding and subtracting.

use std::ops::{Div, Mul};

/// `N(mu, sigma^2)` stored as `pi = 1/sigma^2`, `tau = mu/sigma^2`. `pi = 0` is the flat
/// (uninformative) message.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gaussian {
    /// Precision, 1/variance.
    pub pi: f64,
    /// Precision times mean.
    pub tau: f64,
}

impl Gaussian {
    /// From mean and standard deviation (`sigma > 0`).
    pub fn from_mu_sigma(mu: f64, sigma: f64) -> Self {
        let pi = sigma.powi(-2);
        Gaussian { pi, tau: pi * mu }
    }

    /// From natural parameters.
    pub fn new(pi: f64, tau: f64) -> Self {
        Gaussian { pi, tau }
    }

    /// The mean (0 for the flat message).
    pub fn mu(self) -> f64 {
        if self.pi == 0.0 {
            0.0
        } else {
            self.tau / self.pi
        }
    }

    /// The standard deviation (infinite for the flat message).
    pub fn sigma(self) -> f64 {
        if self.pi == 0.0 {
            f64::INFINITY
        } else {
            (1.0 / self.pi).sqrt()
        }
    }

    /// How far `other` is from `self`: the larger of the change in `tau` and the square root
    /// of the change in `pi` (0 if `pi` changes by infinity). The convergence test of the
    /// message schedule.
    pub fn delta(self, other: Gaussian) -> f64 {
        let pi_delta = (self.pi - other.pi).abs();
        if pi_delta.is_infinite() {
            return 0.0;
        }
        (self.tau - other.tau).abs().max(pi_delta.sqrt())
    }
}

/// Product of densities (unnormalised): precisions and precision-adjusted means add.
impl Mul for Gaussian {
    type Output = Gaussian;
    fn mul(self, other: Gaussian) -> Gaussian {
        Gaussian {
            pi: self.pi + other.pi,
            tau: self.tau + other.tau,
        }
    }
}

/// Quotient of densities (unnormalised): precisions and precision-adjusted means subtract.
impl Div for Gaussian {
    type Output = Gaussian;
    fn div(self, other: Gaussian) -> Gaussian {
        Gaussian {
            pi: self.pi - other.pi,
            tau: self.tau - other.tau,
        }
    }
}
