set -e
cd /work/main
T=/tmp/s18/bench100k/logs/100000-s13-pubmedqa-ours-query.task.json
for rep in 1 2; do
 for v in off on; do
  .venv/bin/python bench/results/2026-12-05-100k-ann/read-ahead/evict.py /tmp/b100k/100000-s13-pubmedqa/ours
  if [ $v = off ]; then
    HF_HUB_OFFLINE=1 .venv/bin/python -c "
import sys; from rag.store import view; view.read_ahead = lambda f: None
import bench.worker as w; w.main(['$T', '/tmp/s18/ab-$v-$rep.json'])"
  else
    HF_HUB_OFFLINE=1 .venv/bin/python -m bench.worker $T /tmp/s18/ab-$v-$rep.json
  fi
  .venv/bin/python -c "
import json,numpy as np; r=json.load(open('/tmp/s18/ab-$v-$rep.json')); l=np.array(r['latencies_s'])*1000
print('$v', $rep, 'first', round(r['first_from_start_s'],2), 'p50', round(np.percentile(l,50),1), 'p95', round(np.percentile(l,95),1), 'first100 p50', round(np.median(l[:100]),1), 'rest p50', round(np.median(l[100:]),1), 'rss', round(r['peak_rss_mb']))"
 done
done
