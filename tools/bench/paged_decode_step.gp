# paged_decode_step.gp — lesson 06: one decode step on the paged cache (block size 16) and on lesson 04's
# contiguous cache against the cache length, and the paged step at cache length 500 against the block size.
# gnuplot -e "datadir='...'; out='....png'" paged_decode_step.gp   (data: render_lesson06.py's l06_*.dat)
set terminal pngcairo size 1000,900 enhanced font "DejaVu Sans,11"
set output out
f(m) = sprintf("%s/l06_step_%s.dat", datadir, m)
set multiplot layout 2,1 title "The price of the indirection: one decode step, paged vs contiguous (single thread, release build)" font ",13"
set grid xtics ytics mytics lc rgb "#dddddd"
set logscale y 10
set mytics 10
set title "One decode step against the cache length p (paged: block size 16)"
set xlabel "cache length p (the new token sits at position p)"
set ylabel "time of one step (log scale)"
set xrange [0:520]
set yrange [10:10000]
set ytics ("10 µs" 10, "100 µs" 100, "1 ms" 1000, "10 ms" 10000)
set key at graph 0.98, graph 0.62 right box opaque font ",10"
plot \
  f("s15Mshape_gqa") using 1:2 with linespoints lw 2 dt 2 pt 4 lc rgb "#2ca02c" title "15M-shape GQA 6/2 (random), contiguous (lesson 04)", \
  f("s15Mshape_gqa") using 1:3 with linespoints lw 2 pt 5 lc rgb "#2ca02c" title "15M-shape GQA 6/2 (random), paged", \
  f("stories260K")   using 1:2 with linespoints lw 2 dt 2 pt 6 lc rgb "#d62728" title "stories260K, contiguous (lesson 04)", \
  f("stories260K")   using 1:3 with linespoints lw 2 pt 7 lc rgb "#d62728" title "stories260K, paged"
set title "stories260K at cache length 500, against the block size (the contiguous step measured alongside)"
set xlabel "block size (positions per block, log scale)"
set logscale x 2
set xrange [0.7:180]
set xtics (1, 2, 4, 8, 16, 32, 64, 128)
unset logscale y
set yrange [0:*]
set ytics auto
set format y "%.0f µs"
set ylabel "time of one step"
set key top right box opaque font ",10"
plot \
  sprintf("%s/l06_blocks.dat", datadir) using 1:2 with linespoints lw 2 pt 7 lc rgb "#d62728" title "paged", \
  sprintf("%s/l06_blocks.dat", datadir) using 1:3 with lines lw 1.5 dt 2 lc rgb "#7f7f7f" title "contiguous (lesson 04)"
unset multiplot
