"""Scale benchmark (`rag bench`): ingest and retrieval speed, memory and recall up to 100k papers.

synth: deterministic synthetic corpora · baseline: the plain LlamaIndex pipeline · worker: one
measured job per process · run: orchestration and caching · report: table and plot · cli: options.
"""
