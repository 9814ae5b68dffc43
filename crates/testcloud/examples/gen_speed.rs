//! Times inventory generation for a large size.
use std::time::Instant;

use syncer_testcloud::model::{Counts, Store};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let c = Counts::for_size(n);
    let t = Instant::now();
    let st = Store::generate(1, &c);
    let items: usize = st.tables.iter().map(|t| t.items.len()).sum();
    println!("size {n}: {items} items generated in {:?}", t.elapsed());
}
