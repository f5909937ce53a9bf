# serving_kv_memory.gp — lesson 07: KV-cache memory in use over the run, for the three serving policies on
# the same 256-request workload (15M-shape model, N = n), against CPU time since the start.
# gnuplot -e "datadir='...'; out='....png'; n=16" serving_kv_memory.gp   (data: render_lesson07.py's l07_kv_*.dat)
set terminal pngcairo size 1000,600 enhanced font "DejaVu Sans,11"
set output out
set title sprintf("KV memory in use while serving 256 requests (15M-shape GQA 6/2, N = %d)", n) font ",13"
set grid xtics ytics lc rgb "#dddddd"
set xlabel "CPU time since the start (s)"
set ylabel "KV cache in use (MiB)"
set xrange [0:*]
set yrange [0:*]
set key at graph 0.98, graph 0.5 right top box opaque noenhanced font ",10"
plot \
  sprintf("%s/l07_kv_continuous.dat", datadir) using 1:2 with steps lw 1.5 lc rgb "#2ca02c" title sprintf("continuous batching: the blocks in use, at most %d running", n), \
  sprintf("%s/l07_kv_static.dat", datadir) using 1:2 with steps lw 1.5 lc rgb "#d62728" title sprintf("static batching: %d x (longest prompt + longest answer) per batch", n), \
  sprintf("%s/l07_kv_one.dat", datadir) using 1:2 with steps lw 1.5 lc rgb "#1f77b4" title "one at a time: prompt + max_new_tokens"
