# kv_waste.gp — lesson 06: KV positions reserved per running sequence, split into those holding a token and
# those wasted, for contiguous reservation and for the paged cache at three block sizes.
# gnuplot -e "datadir='...'; out='....png'" kv_waste.gp   (data: render_lesson06.py's l06_waste.dat)
set terminal pngcairo size 1000,600 enhanced font "DejaVu Sans,11"
set output out
set title "KV cache reserved per running sequence: 256 seeded requests, 512-position context" font ",13"
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border rgb "#333333"
set boxwidth 0.6
set grid ytics lc rgb "#dddddd"
set ylabel "positions (1 position = 1,280 bytes for stories260K)"
set yrange [0:560]
set key top right box opaque noenhanced
set xtics font ",10" noenhanced
set bmargin 5
plot sprintf("%s/l06_waste.dat", datadir) \
       using 2:xtic(1) title "holding a token" lc rgb "#2ca02c", \
    '' using 3 title "reserved, empty (waste)" lc rgb "#d62728"
