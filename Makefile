# EventMesh — the two commands the README gives, and their parts.
#   make demo   run the in-process integration demo
#   make test   run every test: the full suite, then the concurrency suites under ThreadSanitizer
SWIFT ?= swift

.PHONY: demo test test-unit test-tsan bench deps clean help

help:
	@echo "make demo       run the in-process demo (mesh demo)"
	@echo "make test       run every test (unit suite + ThreadSanitizer concurrency suites)"
	@echo "make test-unit  run the unit suite only"
	@echo "make test-tsan  run the concurrency suites under ThreadSanitizer only"
	@echo "make bench      run the bus benchmarks (Benchmarks/, release build)"

# Everything the build needs beyond Swift itself is installed here when missing.
deps:
	@command -v $(SWIFT) >/dev/null 2>&1 || { \
	  echo "error: '$(SWIFT)' not found. Install Swift 6 (https://www.swift.org/install/linux/) and put it on PATH." >&2; \
	  exit 1; }

demo: deps
	$(SWIFT) run mesh demo

test: test-unit test-tsan

test-unit: deps
	$(SWIFT) test

# The concurrency suites under ThreadSanitizer, in a build folder of their own so that the
# sanitizer flags do not invalidate the normal build. No suppression file.
test-tsan: deps
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan --filter 'ConcurrencyTests'

bench: deps
	Benchmarks/run.sh

clean:
	rm -rf .build .build-tsan Benchmarks/.build
