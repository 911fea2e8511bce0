# EventMesh — the two commands the README gives, and their parts.
#   make demo   run the demo: a broker and three nodes on loopback
#   make test   run every test: the full suite (with the Python client's interop tests), the
#               concurrency suites under ThreadSanitizer, the Python check of the wire
#               format's golden vectors, and the cluster tier (image, compose and
#               network-namespace tests) when it can run here
SWIFT ?= swift

VENV ?= .venv
# What the Python tests import: msgpack (golden vectors, examples/python), pyzmq (examples/python).
PYTHON_TEST_PACKAGES = msgpack pyzmq
FUZZ_SECONDS ?= 60

.PHONY: demo test test-unit test-tsan test-python test-python-deps test-cluster fuzz bench image deps clean help

help:
	@echo "make demo       run the demo: a broker and three nodes on loopback (mesh demo)"
	@echo "make test       run every test (Python packages, unit suite, ThreadSanitizer suites, Python vector check, cluster tier)"
	@echo "make test-unit  run the unit suite only (its Python interop tests need make test-python-deps first)"
	@echo "make test-tsan  run the concurrency suites under ThreadSanitizer only"
	@echo "make test-python check the wire format's golden vectors with Python's msgpack"
	@echo "make test-python-deps create .venv with msgpack and pyzmq (for the Python tests and examples/python)"
	@echo "make test-cluster the cluster tier: image, compose tests, network-namespace tests (root + Docker; skipped otherwise)"
	@echo "make fuzz       fuzz the wire decoder for FUZZ_SECONDS (default 60) with libFuzzer"
	@echo "make bench      run the bus benchmarks (Benchmarks/, release build)"
	@echo "make image      build the Docker image eventmesh:<commit> and :latest offline (cluster/build-image.sh)"

# Everything the build needs beyond Swift itself is installed here when missing: libzmq's
# headers and pkg-config file (Debian/Ubuntu: libzmq3-dev), with apt-get when run as root.
deps:
	@command -v $(SWIFT) >/dev/null 2>&1 || { \
	  echo "error: '$(SWIFT)' not found. Install Swift 6 (https://www.swift.org/install/linux/) and put it on PATH." >&2; \
	  exit 1; }
	@pkg-config --exists libzmq 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "== installing libzmq3-dev and pkg-config (apt-get)"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libzmq3-dev pkg-config; \
	  else \
	    echo "error: libzmq not found. Install it: sudo apt-get install libzmq3-dev pkg-config (Debian/Ubuntu), brew install zeromq pkg-config (macOS)." >&2; \
	    exit 1; \
	  fi; }

demo: deps
	$(SWIFT) run mesh demo

test: test-python-deps test-unit test-tsan test-python test-cluster

# The suites that run `mesh` processes and time them (SIGTERM within linger + 1 s, a broker
# restart) run on their own, one at a time, after the rest: on a 2-core machine the parallel
# suite would otherwise starve them of CPU and their deadlines would measure the load.
PROCESS_SUITES = ProcessTests|BrokerRestartTests

test-unit: deps
	$(SWIFT) test --skip '$(PROCESS_SUITES)'
	$(SWIFT) test --skip-build --no-parallel --filter '$(PROCESS_SUITES)'

# The concurrency suites under ThreadSanitizer, in a build folder of their own so that the
# sanitizer flags do not invalidate the normal build. No suppression file.
test-tsan: deps
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan --filter 'ConcurrencyTests'

# Test-only Python packages live in a virtual environment (a system pip may refuse global
# installs); python3-venv is installed when it is missing and we may install packages.
$(VENV)/bin/python:
	@python3 -m venv $(VENV) 2>/dev/null || { \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && apt-get install -y -q python3-venv && python3 -m venv $(VENV); \
	  else echo "error: python3 -m venv failed; install python3-venv" >&2; exit 1; fi; }

# Runs pip every time, so that a venv made before a package was added gets it too (pip does
# nothing, and needs no network, when every package is installed already).
test-python-deps: $(VENV)/bin/python
	$(VENV)/bin/pip install -q $(PYTHON_TEST_PACKAGES)

test-python: test-python-deps
	$(VENV)/bin/python Tests/EventWireTests/Vectors/check_vectors.py

# The cluster tier (cluster/test-cluster.sh): runs when it can (root, a Docker engine, the
# tools); otherwise it says what is missing and is skipped, unless MESH_REQUIRE_CLUSTER=1.
test-cluster: deps
	cluster/test-cluster.sh

fuzz: deps
	Fuzz/run.sh $(FUZZ_SECONDS)

bench: deps
	Benchmarks/run.sh

# The image docker-compose.yml runs, built without a registry: mesh on this host (.build-static),
# a cached debootstrap root imported as the base (see cluster/build-image.sh).
image: deps
	cluster/build-image.sh

clean:
	rm -rf .build .build-tsan Benchmarks/.build Fuzz/.build $(VENV)
