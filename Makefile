# Set up a virtual environment, build the package (C++ core included) and run things.
# Torch is installed first, pinned to the local CPU wheel, so that the package's lower bound
# does not pull a multi-GB CUDA build.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
SOURCES := pyproject.toml CMakeLists.txt $(shell find cpp acts_gnn geometry -type f -not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: setup demo test test-all lint bench module-map gnn-default gnn-small module-map-lowpt gnn-lowpt lowpt-compare metric-learning gnn-metric-learning vertex-pairs triplet defaults clean

setup: $(VENV)/.installed

$(VENV)/.installed: $(SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==2.13.*"
	$(BIN)/python -m pip install -q ".[test]"
	touch $@

demo: setup
	$(BIN)/acts-gnn demo

test: setup
	$(BIN)/pytest

test-all: setup
	$(BIN)/pytest -m "not gpu"

lint: setup
	$(BIN)/python -m pip install -q ruff mypy
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: setup
	$(BIN)/python benchmarks/bench_data.py

# The shipped module map: 310 parametric training events (seeds 100, 200, 400), 450 Pythia8
# ttbar + MU=200 events (seeds 1900, 1910, 1920; the last with a wider beam spot, sigma_z =
# 90 mm, for the vertex-z tails) and 60 parametric flat-curvature events with sigma_z = 90 mm
# (seeds 1930, 1931), all at pT > 0.9 GeV; about 3 h on 2 cores. Evaluated on 3 held-out
# Pythia8 MU=200 events (seed 1701) and 5 parametric ones (seed 999); writes
# data/module-map.npz and the README's plot docs/img/module-map-efficiency.png.
module-map: setup
	$(BIN)/acts-gnn simulate --generator parametric -q --events 60 --pileup 200 --pt-min 0.9 --seed 100 -o data/map-train
	$(BIN)/acts-gnn simulate --generator parametric -q --events 150 --pileup 200 --pt-min 0.9 --seed 200 -o data/map-train2
	$(BIN)/acts-gnn simulate --generator parametric -q --events 100 --pileup 200 --pt-min 0.9 --pt-spectrum flat-curvature --no-hard-scatter --seed 400 -o data/map-train3
	$(BIN)/acts-gnn simulate -q --events 100 --pileup 200 --pt-min 0.9 --seed 1900 -o data/p8-map-a
	$(BIN)/acts-gnn simulate -q --events 200 --pileup 200 --pt-min 0.9 --seed 1910 -o data/p8-map-b
	$(BIN)/acts-gnn simulate -q --events 150 --pileup 200 --pt-min 0.9 --beam-spot 0.0125 0.0125 90 5 --seed 1920 -o data/p8-map-c
	for s in 1930 1931; do $(BIN)/acts-gnn simulate --generator parametric -q --events 30 --pileup 200 --pt-min 0.9 --pt-spectrum flat-curvature --no-hard-scatter --beam-spot 0.0125 0.0125 90 0 --seed $$s -o data/flat-map-$$s || exit 1; done
	$(BIN)/acts-gnn simulate -q --events 3 --pileup 200 --seed 1701 -o data/p8-mu200-test
	$(BIN)/acts-gnn simulate --generator parametric -q --events 5 --pileup 200 --seed 999 -o data/mu200-test
	for d in map-train map-train2 map-train3 p8-map-a p8-map-b p8-map-c flat-map-1930 flat-map-1931 p8-mu200-test mu200-test; do $(BIN)/acts-gnn prepare -q -i data/$$d -o data/$$d-prepared || exit 1; done
	for d in map-train map-train2 map-train3 p8-map-a p8-map-b p8-map-c flat-map-1930 flat-map-1931; do $(BIN)/acts-gnn module-map build -q -i data/$$d-prepared -o data/$$d.npz || exit 1; done
	$(BIN)/acts-gnn module-map merge --inputs data/map-train.npz data/map-train2.npz data/map-train3.npz data/p8-map-a.npz data/p8-map-b.npz data/p8-map-c.npz data/flat-map-1930.npz data/flat-map-1931.npz -o data/module-map.npz
	$(BIN)/acts-gnn module-map evaluate -q -i data/mu200-test-prepared -m data/module-map.npz
	$(BIN)/acts-gnn module-map evaluate -q -i data/p8-mu200-test-prepared -m data/module-map.npz --plot docs/img/module-map-efficiency.png

# The shipped GNN (geometry/generic/models): 64 Pythia8 ttbar + MU=200 events (seed 1960; 60
# train, 4 validate), graphs from the shipped module map, configs/gnn-default.yaml (8 epochs in
# 8 phi sectors; ~55 min on one CPU core, minutes on a GPU: add DEVICE=cuda).
DEVICE ?= auto
gnn-default: setup data/p8-gnn-train-prepared/dataset.json
	test -f data/module-map.npz || $(MAKE) module-map
	$(BIN)/acts-gnn train gnn --config configs/gnn-default.yaml --device $(DEVICE)

# The pT > 0.5 GeV module map (geometry/generic/module-map-lowpt.npz, issue 22): 1536 Pythia8
# ttbar + MU=200 events (seed 1960 at the default --pt-min, seeds 2210-2213 at --pt-min 0.4),
# maps at --min-pt 0.4 merged with the shipped map, compact, triplets seen < 4 times dropped;
# about 2 h on 2 cores. Evaluated on the held-out events of `make module-map` (seed 1701).
LOWPT_SETS := 1960:64:0.15 2210:192:0.4 2211:256:0.4 2212:512:0.4 2213:512:0.4
module-map-lowpt: setup data/p8-mu200-test-prepared/dataset.json
	for set in $(LOWPT_SETS); do seed=$${set%%:*}; rest=$${set#*:}; events=$${rest%%:*}; ptmin=$${rest#*:}; d=data/lowpt-map-$$seed; \
	  test -f $$d-prepared/dataset.json || { $(BIN)/acts-gnn simulate -q --events $$events --pileup 200 --pt-min $$ptmin --seed $$seed --workers 2 -o $$d && $(BIN)/acts-gnn prepare -q --workers 2 -i $$d -o $$d-prepared; } || exit 1; \
	  $(BIN)/acts-gnn module-map build -q --min-pt 0.4 --workers 2 -i $$d-prepared -o $$d.npz || exit 1; done
	$(BIN)/acts-gnn module-map merge --inputs geometry/generic/module-map.npz $(foreach s,$(LOWPT_SETS),data/lowpt-map-$(firstword $(subst :, ,$(s))).npz) -o data/module-map-lowpt.npz
	$(BIN)/acts-gnn module-map convert -i data/module-map-lowpt.npz -o data/module-map-lowpt-compact.npz --format compact --min-occurrence 4
	$(BIN)/acts-gnn module-map evaluate -q -i data/p8-mu200-test-prepared -m data/module-map-lowpt-compact.npz --min-pt 0.5

# The hidden-32 GNN (geometry/generic/models/gnn-small.*): the events of gnn-default, graphs
# from the shipped compact map, configs/gnn-small.yaml (30 min on one CPU core).
gnn-small: setup data/p8-gnn-train-prepared/dataset.json
	$(BIN)/acts-gnn train gnn --config configs/gnn-small.yaml --device $(DEVICE)

# The low-pT GNN (geometry/generic/models/gnn-lowpt.*, the `lowpt` operating point): the events
# of gnn-default, graphs from the shipped low-pT map, the shipped GNN fine-tuned in two stages:
# configs/gnn-lowpt.yaml (pT > 0.5 GeV target edges, 6 epochs, bf16 on 2 threads; 81 min), then
# configs/gnn-lowpt-highpt.yaml (2 epochs with the target edges weighted by pT, fp32; 63 min).
# The shipped model is output/gnn-lowpt-highpt/gnn.{pt,onnx}.
gnn-lowpt: setup data/p8-gnn-train-prepared/dataset.json
	$(BIN)/acts-gnn train gnn --config configs/gnn-lowpt.yaml --device $(DEVICE)
	$(BIN)/acts-gnn train gnn --config configs/gnn-lowpt-highpt.yaml --device $(DEVICE)

# The GNNs' training events: 64 Pythia8 ttbar + MU=200 events (seed 1960; 60 train, 4 validate).
data/p8-gnn-train-prepared/dataset.json: | setup
	$(BIN)/acts-gnn simulate -q --events 64 --pileup 200 --seed 1960 --workers 2 -o data/p8-gnn-train
	$(BIN)/acts-gnn prepare -q --workers 2 -i data/p8-gnn-train -o data/p8-gnn-train-prepared

# The held-out Pythia8 MU=200 events of docs/results.md (seed 1701; also made by module-map).
data/p8-mu200-test-prepared/dataset.json: | setup
	$(BIN)/acts-gnn simulate -q --events 3 --pileup 200 --seed 1701 -o data/p8-mu200-test
	$(BIN)/acts-gnn prepare -q -i data/p8-mu200-test -o data/p8-mu200-test-prepared

# docs/results.md, "The low-pT operating point": its edge metrics, the comparison with the CKF
# presets on the held-out events, the same without its track cleaning, the `default` point on
# the same events (without and with track cleaning), and the turn-on plot
# docs/img/lowpt-turn-on-efficiency-vs-pt.png (about 10 min on one core).
lowpt-compare: setup data/p8-mu200-test-prepared/dataset.json
	$(BIN)/acts-gnn evaluate-gnn -q -i data/p8-mu200-test-prepared -m geometry/generic/module-map-lowpt.npz --model geometry/generic/models/gnn-lowpt.pt -o output/gnn-lowpt-eval --min-pt 0.5 --min-purity 0.9
	$(BIN)/acts-gnn compare -q -i data/p8-mu200-test -o output/p8-mu200-lowpt --operating-point lowpt --ckf-preset fast tuned --gnn-cuts 0.5 0.7
	$(BIN)/acts-gnn compare -q -i data/p8-mu200-test -o output/p8-mu200-lowpt-reco045 --operating-point lowpt --ckf-preset fast tuned --track-min-pt 0.45
	$(BIN)/acts-gnn compare -q -i data/p8-mu200-test -o output/p8-mu200-lowpt-uncleaned --operating-point lowpt --no-track-cleaning
	$(BIN)/acts-gnn compare -q -i data/p8-mu200-test -o output/p8-mu200-lowpt-one-pass --operating-point lowpt-one-pass
	$(BIN)/acts-gnn compare -q -i data/p8-mu200-test -o output/p8-mu200-default
	$(BIN)/acts-gnn compare -q -i data/p8-mu200-test -o output/p8-mu200-default-cleaned --track-cleaning
	cp output/p8-mu200-lowpt/turn_on_efficiency_vs_pt.png docs/img/lowpt-turn-on-efficiency-vs-pt.png

# 24 MU=200 parametric training events (seed 300): the embedding's and filter's.
data/gnn-train-prepared/dataset.json: | setup
	$(BIN)/acts-gnn simulate --generator parametric -q --events 24 --pileup 200 --seed 300 -o data/gnn-train
	$(BIN)/acts-gnn prepare -q -i data/gnn-train -o data/gnn-train-prepared

# The shipped embedding and filter: configs/embedding-default.yaml (~40 min on one CPU core),
# exported at the operating point r = 0.6, k = 400, then configs/filter-default.yaml on its
# r = 0.55, k = 300 radius graphs (~25 min).
metric-learning: setup data/gnn-train-prepared/dataset.json
	$(BIN)/acts-gnn train embedding --config configs/embedding-default.yaml --device $(DEVICE)
	$(BIN)/acts-gnn export embedding --checkpoint output/embedding-default/checkpoints/last.pt --metadata r=0.6 --metadata k=400 --onnx output/embedding-default/embedding.onnx --torchscript output/embedding-default/embedding.pt
	$(BIN)/acts-gnn train filter --config configs/filter-default.yaml --device $(DEVICE)

# The shipped GNN of the metric-learning chain: 20 MU=50 events (seed 302), their graphs after
# the embedding (r = 0.6, k = 400) and the filter (~8 min), configs/gnn-metric-learning.yaml.
gnn-metric-learning: setup
	test -f output/embedding-default/embedding.pt -a -f output/filter-default/filter.pt || $(MAKE) metric-learning
	test -f data/gnn-train-mu50-prepared/dataset.json || { $(BIN)/acts-gnn simulate --generator parametric -q --events 20 --pileup 50 --seed 302 -o data/gnn-train-mu50 && $(BIN)/acts-gnn prepare -q -i data/gnn-train-mu50 -o data/gnn-train-mu50-prepared; }
	$(BIN)/acts-gnn graphs -q -i data/gnn-train-mu50-prepared -o data/ml-graphs-mu50 --embedding output/embedding-default/embedding.pt --filter output/filter-default/filter.pt
	$(BIN)/acts-gnn train gnn --config configs/gnn-metric-learning.yaml --device $(DEVICE)

# The shipped vertexing pair network (geometry/generic/models/vertex-pairs.*): 12 parametric
# MU = 50 events (seed 24), their seeding + CKF tracks stored as track sets, then
# configs/vertex-pairs.yaml (15 epochs, ~6 min on one CPU core).
vertex-pairs: setup
	test -f data/vertex-train/simulation.json || $(BIN)/acts-gnn simulate -q --generator parametric --events 12 --pileup 50 --seed 24 -o data/vertex-train
	$(BIN)/python -c "from acts_gnn.chain.vertexing import VertexFinder; from acts_gnn.sequencer.vertexing_compare import run_vertexing_comparison as r; r('data/vertex-train', 'data/vertex-train-cmp', VertexFinder())"
	$(BIN)/acts-gnn train vertex --config configs/vertex-pairs.yaml --device $(DEVICE)

# Rebuild every shipped file from scratch (module map, GNN, embedding, filter, metric-learning
# GNN) and copy them into geometry/generic.
# The shipped triplet classifier (geometry/generic/models/triplet.*): 4 + 2 Pythia8 MU=200
# events (seeds 2501, 2502), doublets of the module map shipped at commit 80e415c (the one it
# was trained on, before the Pythia8 rebuild) and the doublet GNN shipped at that time (commit
# ad696a2, trained on parametric events), configs/triplet.yaml
# (30 epochs, ~36 min on one loaded CPU core), exported with the score cut 0.5 (docs/triplet-seeds.md).
triplet: setup
	test -f data/triplet-train/dataset.json || { $(BIN)/acts-gnn simulate -q --events 4 --pileup 200 --seed 2501 -o data/triplet-sim2501 && $(BIN)/acts-gnn prepare -q -i data/triplet-sim2501 -o data/triplet-train; }
	test -f data/triplet-val/dataset.json || { $(BIN)/acts-gnn simulate -q --events 2 --pileup 200 --seed 2502 -o data/triplet-sim2502 && $(BIN)/acts-gnn prepare -q -i data/triplet-sim2502 -o data/triplet-val; }
	git show 80e415c:geometry/generic/module-map.npz > data/module-map-80e415c.npz
	git show ad696a2:geometry/generic/models/gnn.pt > data/gnn-ad696a2.pt
	sed -e 's|^module_map: ""|module_map: data/module-map-80e415c.npz|' -e 's|^gnn: ""|gnn: data/gnn-ad696a2.pt|' configs/triplet.yaml > data/triplet-shipped.yaml
	$(BIN)/acts-gnn train triplet --config data/triplet-shipped.yaml --device $(DEVICE)
	$(BIN)/acts-gnn export triplet --checkpoint output/triplet/checkpoints/last.pt --onnx output/triplet/triplet-shipped.onnx --torchscript output/triplet/triplet-shipped.pt --metadata score_cut=0.5

defaults: gnn-default metric-learning gnn-metric-learning vertex-pairs triplet
	$(BIN)/acts-gnn module-map convert -i data/module-map.npz -o geometry/generic/module-map.npz --format compact
	mkdir -p geometry/generic/models
	cp output/gnn-default/gnn.onnx output/gnn-default/gnn.pt geometry/generic/models/
	cp output/embedding-default/embedding.onnx output/embedding-default/embedding.pt geometry/generic/models/
	cp output/filter-default/filter.onnx output/filter-default/filter.pt geometry/generic/models/
	cp output/gnn-metric-learning/gnn.onnx geometry/generic/models/gnn-metric-learning.onnx
	cp output/gnn-metric-learning/gnn.pt geometry/generic/models/gnn-metric-learning.pt
	cp output/vertex-pairs/vertex-pairs.onnx output/vertex-pairs/vertex-pairs.pt geometry/generic/models/
	cp output/triplet/triplet-shipped.onnx geometry/generic/models/triplet.onnx
	cp output/triplet/triplet-shipped.pt geometry/generic/models/triplet.pt

clean:
	rm -rf build $(VENV) output
