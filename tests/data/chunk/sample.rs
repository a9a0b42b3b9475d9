use std::fmt;

/// A 2-D point.
#[derive(Debug, Clone)]
pub struct Point {
    x: f64,
    y: f64,
}

pub enum Shape {
    Circle(f64),
    Square(f64),
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "({}, {})", self.x, self.y)
    }
}

pub trait Area {
    fn area(&self) -> f64;
    fn describe(&self) -> String {
        format!("area {}", self.area())
    }
}

mod geometry {
    pub fn distance(a: f64, b: f64) -> f64 {
        (a - b).abs()
    }
}

macro_rules! square {
    ($x:expr) => {
        $x * $x
    };
}
