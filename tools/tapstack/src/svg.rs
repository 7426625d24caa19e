//! Writing SVG by hand: a document with text, lines, rectangles and
//! polylines, and the pieces charts share (nice ticks, axes, a legend).

use std::fmt::Write;

/// Escapes text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => o.push('?'),
            c => o.push(c),
        }
    }
    o
}

/// A number short enough for coordinates.
pub fn n(v: f64) -> String {
    if !v.is_finite() {
        return "0".into();
    }
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// An SVG document being written.
pub struct Svg {
    pub out: String,
}

impl Svg {
    pub fn new(w: f64, h: f64, title: &str) -> Svg {
        let (w, h) = (w.ceil(), h.ceil());
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" font-family=\"DejaVu Sans, Liberation Sans, Arial, sans-serif\" \
             font-size=\"13\">\n<title>{}</title>\n\
             <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n",
            esc(title)
        );
        let mut s = Svg { out };
        s.text(
            w / 2.0,
            24.0,
            title,
            "class=\"title\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\"",
        );
        s
    }

    pub fn raw(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    pub fn text(&mut self, x: f64, y: f64, s: &str, attrs: &str) {
        let _ = writeln!(
            self.out,
            "<text x=\"{}\" y=\"{}\" {attrs}>{}</text>",
            n(x),
            n(y),
            esc(s)
        );
    }

    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, attrs: &str) {
        let _ = writeln!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {attrs}/>",
            n(x1),
            n(y1),
            n(x2),
            n(y2)
        );
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, attrs: &str) {
        let _ = writeln!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {attrs}/>",
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0))
        );
    }

    pub fn polyline(&mut self, pts: &[(f64, f64)], attrs: &str) {
        if pts.is_empty() {
            return;
        }
        let p: Vec<String> = pts
            .iter()
            .map(|&(x, y)| format!("{},{}", n(x), n(y)))
            .collect();
        let _ = writeln!(
            self.out,
            "<polyline points=\"{}\" fill=\"none\" {attrs}/>",
            p.join(" ")
        );
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// About `want` round tick values from 0 to at least `max`: (step, ticks).
pub fn ticks(max: f64, want: usize) -> (f64, Vec<f64>) {
    let max = if max > 0.0 && max.is_finite() {
        max
    } else {
        1.0
    };
    let raw = max / want.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut v = Vec::new();
    let mut i = 0.0;
    while i * step <= max * (1.0 + 1e-9) + step * 1e-9 {
        v.push(i * step);
        i += 1.0;
    }
    if *v.last().unwrap_or(&0.0) < max {
        v.push(i * step);
    }
    (step, v)
}

/// A tick's label: no more decimals than the step needs.
pub fn tick_label(v: f64, step: f64) -> String {
    let dec = (0..6)
        .find(|&d| {
            let m = step * 10f64.powi(d);
            (m - m.round()).abs() < 1e-6
        })
        .unwrap_or(6) as usize;
    format!("{v:.dec$}")
}

/// A unit for microseconds that keeps the numbers readable: (divisor, name).
pub fn time_unit(max_us: f64) -> (f64, &'static str) {
    if max_us < 2_000.0 {
        (1.0, "µs")
    } else if max_us < 20_000_000.0 {
        (1_000.0, "ms")
    } else {
        (1_000_000.0, "s")
    }
}

/// A unit for bytes: (divisor, name).
pub fn byte_unit(max: f64) -> (f64, &'static str) {
    if max >= 4.0 * 1024.0 * 1024.0 {
        (1024.0 * 1024.0, "MiB")
    } else if max >= 16.0 * 1024.0 {
        (1024.0, "KiB")
    } else {
        (1.0, "bytes")
    }
}

/// The plot area of a chart with linear axes from 0.
pub struct Frame {
    pub x0: f64,
    pub y0: f64,
    pub w: f64,
    pub h: f64,
    pub xmax: f64,
    pub ymax: f64,
}

impl Frame {
    pub fn px(&self, x: f64) -> f64 {
        self.x0 + (x / self.xmax).clamp(0.0, 1.0) * self.w
    }
    pub fn py(&self, y: f64) -> f64 {
        self.y0 + self.h - (y / self.ymax).clamp(0.0, 1.0) * self.h
    }

    /// Draws the axes, grid, ticks and the axis titles (no y ticks when
    /// `ylabel` is empty); returns the frame scaled to the last tick of each
    /// axis.
    #[allow(clippy::too_many_arguments)]
    pub fn axes(
        svg: &mut Svg,
        x0: f64,
        y0: f64,
        w: f64,
        h: f64,
        xmax: f64,
        ymax: f64,
        xlabel: &str,
        ylabel: &str,
    ) -> Frame {
        let (xs, xt) = ticks(xmax, 8);
        let (ys, yt) = ticks(ymax, 6);
        let f = Frame {
            x0,
            y0,
            w,
            h,
            xmax: *xt.last().unwrap_or(&1.0),
            ymax: *yt.last().unwrap_or(&1.0),
        };
        for &t in &xt {
            let x = f.px(t);
            svg.line(x, y0, x, y0 + h, "stroke=\"#e5e7eb\" stroke-width=\"1\"");
            svg.line(x, y0 + h, x, y0 + h + 5.0, "stroke=\"black\"");
            svg.text(
                x,
                y0 + h + 19.0,
                &tick_label(t, xs),
                "class=\"tick\" text-anchor=\"middle\" font-size=\"12\"",
            );
        }
        // No y ticks without a y title: a chart of rows (the states) has
        // its own labels there.
        for &t in yt.iter().filter(|_| !ylabel.is_empty()) {
            let y = f.py(t);
            svg.line(x0, y, x0 + w, y, "stroke=\"#e5e7eb\" stroke-width=\"1\"");
            svg.line(x0 - 5.0, y, x0, y, "stroke=\"black\"");
            svg.text(
                x0 - 8.0,
                y + 4.0,
                &tick_label(t, ys),
                "class=\"tick\" text-anchor=\"end\" font-size=\"12\"",
            );
        }
        svg.rect(
            x0,
            y0,
            w,
            h,
            "fill=\"none\" stroke=\"black\" stroke-width=\"1\"",
        );
        svg.text(
            x0 + w / 2.0,
            y0 + h + 40.0,
            xlabel,
            "class=\"axis-label\" text-anchor=\"middle\"",
        );
        let (lx, ly) = (x0 - 58.0, y0 + h / 2.0);
        if !ylabel.is_empty() {
            svg.text(
                lx,
                ly,
                ylabel,
                &format!(
                    "class=\"axis-label\" text-anchor=\"middle\" transform=\"rotate(-90 {} {})\"",
                    n(lx),
                    n(ly)
                ),
            );
        }
        f
    }
}

/// One entry of a legend: what it looks like and its label.
pub enum Key {
    /// A line with these stroke attributes.
    Line(String),
    /// A filled square with this fill.
    Area(String),
}

/// A legend box at (x, y), one entry a line.
pub fn legend(svg: &mut Svg, x: f64, y: f64, entries: &[(Key, String)]) {
    let h = 10.0 + 20.0 * entries.len() as f64;
    svg.rect(
        x,
        y,
        190.0,
        h,
        "class=\"legend\" fill=\"white\" stroke=\"#9ca3af\"",
    );
    for (i, (key, label)) in entries.iter().enumerate() {
        let cy = y + 15.0 + 20.0 * i as f64;
        match key {
            Key::Line(attrs) => svg.line(x + 8.0, cy, x + 38.0, cy, attrs),
            Key::Area(fill) => svg.rect(
                x + 8.0,
                cy - 7.0,
                30.0,
                14.0,
                &format!("fill=\"{fill}\" stroke=\"#9ca3af\""),
            ),
        }
        svg.text(x + 46.0, cy + 4.0, label, "class=\"legend-entry\"");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(10.0, 5), (2.0, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]));
        let (s, t) = ticks(93.0, 6);
        assert_eq!(s, 20.0);
        assert_eq!(t.last(), Some(&100.0));
        let (s, t) = ticks(0.7, 6);
        assert_eq!((s, t.len()), (0.2, 5));
        assert_eq!(tick_label(0.4, 0.2), "0.4");
        assert_eq!(tick_label(0.25, 0.25), "0.25");
        assert_eq!(tick_label(40.0, 20.0), "40");
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
