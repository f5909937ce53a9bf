# serving_throughput.gp — lesson 07: generated tokens per second against N (the batch size) for the three
# serving policies on the same 256-request workload, and the batched decode step alone, one panel per model.
# gnuplot -e "datadir='...'; out='....png'" serving_throughput.gp   (data: render_lesson07.py's l07_throughput_*.dat)
set terminal pngcairo size 1000,1000 enhanced font "DejaVu Sans,11"
set output out
f(i) = sprintf("%s/l07_throughput_%d.dat", datadir, i)
set multiplot layout 2,1 title "Serving 256 requests: tokens per second against the batch size N (single thread, release build)" font ",13"
set grid xtics ytics lc rgb "#dddddd"
set logscale x 2
set xrange [0.8:160]
set xtics (1, 2, 4, 8, 16, 32, 64, 128)
set xlabel "N: requests in the batch (continuous: running at most; static: per batch)"
set ylabel "generated tokens per second of CPU time"
set yrange [0:*]
set datafile missing "NaN"  # static batching is measured at three N only: join its points anyway
do for [i=0:1] {
  set title (i == 0 ? "stories260K (260K parameters: its weights sit in the L2 cache)" : "15M-shape GQA 6/2, random weights (26 MB of weights)")
  if (i == 0) { set key top right box opaque noenhanced font ",10" } else { set key top left box opaque noenhanced font ",10" }
  plot \
    f(i) using 1:5 with linespoints lw 1.5 dt 3 pt 1 lc rgb "#7f7f7f" title "decode step alone: N sequences at cache length 256", \
    f(i) using 1:2 with linespoints lw 2 pt 7 lc rgb "#2ca02c" title "continuous batching (engine)", \
    f(i) using 1:3 with linespoints lw 2 pt 5 lc rgb "#d62728" title "static batching (lesson 04, padded; N = 4, 16, 64)", \
    f(i) using 1:4 with lines lw 2 dt 2 lc rgb "#1f77b4" title "one request at a time (lesson 04)"
}
unset multiplot
