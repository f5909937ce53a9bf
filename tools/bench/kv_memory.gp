# kv_memory.gp — KV-cache bytes (fp16, batch 1) for MHA, GQA and MQA at contexts of 512, 4k and 32k.
# gnuplot -e "datadir='...'; out='....png'" kv_memory.gp   (data: render.py's kv_memory.dat)
set terminal pngcairo size 1100,640 enhanced font "DejaVu Sans,11"
set output out
set title "KV-cache size, fp16, batch 1 (fp32 is twice as much)" font ",13"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border rgb "#333333"
set boxwidth 0.9
set logscale y 10
set yrange [0.05:10000]
set ytics ("64 KiB" 0.0625, "1 MiB" 1, "16 MiB" 16, "256 MiB" 256, "4 GiB" 4096)
set grid ytics lc rgb "#dddddd"
set ylabel "KV cache (log scale)"
set xlabel "model and context length (positions); past a model's own context (stories260K 512, lesson 256) a bar is the formula's answer" noenhanced offset 0,-1
set bmargin 6
set key top left box opaque noenhanced
set xtics font ",9"
plot sprintf("%s/kv_memory.dat", datadir) \
       using 2:xtic(1) title "MHA (KV heads = query heads)" lc rgb "#d62728", \
    '' using 3 title "GQA (the model's own KV heads)" lc rgb "#2ca02c", \
    '' using 4 title "MQA (one KV head)" lc rgb "#1f77b4"
