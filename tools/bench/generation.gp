# generation.gp — whole generations from a BOS prompt vs the number of new tokens, and the speedup.
# gnuplot -e "datadir='...'; out='....png'" generation.gp   (data: render.py's gen_<model>.dat)
set terminal pngcairo size 1000,900 enhanced font "DejaVu Sans,11"
set output out
f(m) = sprintf("%s/gen_%s.dat", datadir, m)
set multiplot layout 2,1 title "Generating N tokens greedily from BOS (single thread, release build)" font ",13"
set logscale xy 2
set logscale y 10
set xrange [12:600]
set xtics (16, 32, 64, 128, 256, 512)
set grid xtics ytics mytics lc rgb "#dddddd"
set mytics 10
set xlabel "new tokens N (log scale)"
set ylabel "total generation time (log scale)"
set yrange [0.1:1e5]
set ytics ("0.1 ms" 0.1, "1 ms" 1, "10 ms" 10, "100 ms" 100, "1 s" 1000, "10 s" 1e4, "100 s" 1e5)
set key bottom right box opaque font ",10"
set title "Total time"
plot \
  f("stories260K")   using 1:3 with linespoints lw 2 dt 2 pt 6 lc rgb "#d62728" title "stories260K, no cache", \
  f("s15Mshape_mha") using 1:3 with linespoints lw 2 dt 2 pt 8 lc rgb "#1f77b4" title "15M-shape MHA, no cache", \
  f("s15Mshape_gqa") using 1:3 with linespoints lw 2 dt 2 pt 4 lc rgb "#2ca02c" title "15M-shape GQA 6/2, no cache", \
  f("stories260K")   using 1:2 with linespoints lw 2 pt 7 lc rgb "#d62728" title "stories260K, KV cache", \
  f("s15Mshape_mha") using 1:2 with linespoints lw 2 pt 9 lc rgb "#1f77b4" title "15M-shape MHA, KV cache", \
  f("s15Mshape_gqa") using 1:2 with linespoints lw 2 pt 5 lc rgb "#2ca02c" title "15M-shape GQA 6/2, KV cache"
set title "Speedup of the KV cache = time without / time with"
set ylabel "speedup (×, log scale)"
set logscale y 10
set yrange [1:3000]
set ytics ("1×" 1, "10×" 10, "100×" 100, "1000×" 1000)
set key top left box opaque font ",10"
plot \
  f("stories260K")   using 1:4 with linespoints lw 2 pt 7 lc rgb "#d62728" title "stories260K", \
  f("s15Mshape_mha") using 1:4 with linespoints lw 2 pt 9 lc rgb "#1f77b4" title "15M-shape MHA (random)", \
  f("s15Mshape_gqa") using 1:4 with linespoints lw 2 pt 5 lc rgb "#2ca02c" title "15M-shape GQA 6/2 (random)", \
  150 with lines lw 1.5 dt 3 lc rgb "#7f7f7f" title "target for stories260K at 511 tokens: 150×"
unset multiplot
