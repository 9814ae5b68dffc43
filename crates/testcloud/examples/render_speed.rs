//! Measures how long rendering one page of 1000 items takes (no HTTP).
use std::time::Instant;

use syncer_testcloud::model::{Counts, Kind, Store};
use syncer_testcloud::render::{Cx, Shape};
use syncer_testcloud::tpl::Vals;

fn main() {
    let t = Instant::now();
    let st = Store::generate(1, &Counts::benchmark());
    println!("generate: {:?}", t.elapsed());
    for (kind, v) in [
        (Kind::Server, (2, 100)),
        (Kind::Server, (2, 1)),
        (Kind::Port, (2, 1)),
        (Kind::Volume, (2, 1)),
    ] {
        let cx = Cx {
            st: &st,
            base: "http://127.0.0.1:1",
            nova: v,
            cinder: (3, 69),
        };
        let mut best = f64::MAX;
        let mut len = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let mut out = String::with_capacity(3_000_000);
            let mut vals = Vals::default();
            for i in 0..1000u32 {
                cx.render(kind, i, Shape::List, &mut vals, &mut out);
            }
            best = best.min(t.elapsed().as_secs_f64() * 1000.0);
            len = out.len();
        }
        println!("{kind:?} {v:?}: 1000 rendered in {best:.2} ms ({len} bytes)");
    }
}
