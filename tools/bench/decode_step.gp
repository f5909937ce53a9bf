# decode_step.gp — one decode step against the cache length, with and without the KV cache.
# gnuplot -e "datadir='...'; out='....png'" decode_step.gp   (data: render.py's step_<model>.dat)
set terminal pngcairo size 1000,680 enhanced font "DejaVu Sans,11"
set output out
set title "Time of ONE decode step vs cache length (single thread, release build)" font ",13"
set xlabel "cache length p = positions already cached (the new token sits at position p)"
set ylabel "time of one decode step (log scale)"
set logscale y
set yrange [20:2e7]
set ytics ("100 µs" 100, "1 ms" 1000, "10 ms" 1e4, "100 ms" 1e5, "1 s" 1e6, "10 s" 1e7)
set mytics 10
set grid xtics ytics mytics lc rgb "#dddddd"
set xrange [0:520]
set key top left box opaque spacing 1.1 font ",10"
f(m) = sprintf("%s/step_%s.dat", datadir, m)
plot \
  f("stories260K")   using 1:3 with linespoints lw 2 dt 2 pt 6 lc rgb "#d62728" title "stories260K, no cache (forward of all p+1 tokens)", \
  f("s15Mshape_mha") using 1:3 with linespoints lw 2 dt 2 pt 8 lc rgb "#1f77b4" title "15M-shape MHA (random), no cache", \
  f("s15Mshape_gqa") using 1:3 with linespoints lw 2 dt 2 pt 4 lc rgb "#2ca02c" title "15M-shape GQA 6/2 (random), no cache", \
  f("s15Mshape_mha") using 1:2 with linespoints lw 2 pt 9 lc rgb "#1f77b4" title "15M-shape MHA (random), KV cache", \
  f("s15Mshape_gqa") using 1:2 with linespoints lw 2 pt 5 lc rgb "#2ca02c" title "15M-shape GQA 6/2 (random), KV cache", \
  f("stories260K")   using 1:2 with linespoints lw 2 pt 7 lc rgb "#d62728" title "stories260K, KV cache (1 token on p cached)", \
  f("stories260K")   using 1:4 with lines lw 1.5 dt 3 lc rgb "#7f7f7f" title "stories260K cached, if time grew like FLOPs (from p = 16)"
