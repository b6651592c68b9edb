"""CSS and the one script of the page (Gradio 6 takes both at launch, not in gr.Blocks)."""

from __future__ import annotations

CSS = """
.rag-note { color: var(--body-text-color-subdued); font-size: 0.85em; }
.rag-abstain { border-left: 4px solid #d9a400; background: rgba(217, 164, 0, 0.10);
  padding: 8px 12px; border-radius: 6px; }
.rag-error { border-left: 4px solid #d33; background: rgba(221, 51, 51, 0.08);
  padding: 6px 12px; border-radius: 6px; }
a.rag-cite { font-weight: 600; text-decoration: none; padding: 0 1px; border-radius: 3px;
  color: var(--color-accent); cursor: pointer; }
a.rag-cite:hover { background: var(--color-accent-soft); }
.rag-sent { border-bottom: 1px dotted var(--border-color-primary); }
#rag-side { position: sticky; top: 8px; align-self: flex-start; }
#rag-sources { max-height: calc(100vh - 90px); overflow-y: auto !important; padding-right: 4px; }
.rag-sources { display: flex; flex-direction: column; gap: 10px; font-size: 0.92em; }
.rag-empty { color: var(--body-text-color-subdued); padding: 12px; }
.rag-q { font-weight: 600; margin-bottom: 6px; }
.rag-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px;
  margin-bottom: 8px; background: var(--block-background-fill); scroll-margin: 60px; }
.rag-card.rag-flash { animation: rag-flash 1.6s ease-out; }
@keyframes rag-flash { 0% { box-shadow: 0 0 0 3px var(--color-accent); } 100% { box-shadow: none; } }
.rag-card-head { font-weight: 600; }
.rag-num { color: var(--color-accent); margin-right: 2px; }
.rag-meta { color: var(--body-text-color-subdued); font-size: 0.85em; margin: 2px 0 4px; }
.rag-passage { margin: 4px 0 0; line-height: 1.45; }
.rag-passage mark { background: rgba(255, 213, 79, 0.55); color: inherit; padding: 0 1px;
  border-radius: 2px; }
.rag-subhead { font-weight: 600; margin: 6px 0 4px; color: var(--body-text-color-subdued); }
.rag-uncited ul { margin: 0; padding-left: 18px; }
.rag-uncited li { margin: 2px 0; }
.rag-uncited summary { cursor: pointer; }
details.rag-older > summary { cursor: pointer; color: var(--body-text-color-subdued); }
.rag-preview { border-left: 3px solid var(--border-color-primary); padding: 2px 10px; opacity: 0.8; }
.rag-notice { border-left: 4px solid #d9a400; padding: 4px 10px; font-size: 0.9em; }
#rag-banner { border: 1px solid #d9a400; border-radius: 8px; padding: 6px 10px; }
"""

# Citation links sit in the chat, the cards in another component: scroll to the card ourselves
# (opening folded earlier turns) instead of letting the browser navigate or open a tab.
HEAD = """
<script>
document.addEventListener("click", function (ev) {
  const link = ev.target.closest ? ev.target.closest("a.rag-cite, a[href^='#cite-']") : null;
  if (!link) return;
  const id = (link.getAttribute("href") || "").replace(/^#/, "");
  ev.preventDefault();
  ev.stopPropagation();
  const card = document.getElementById(id);
  if (!card) return;
  let fold = card.closest("details");
  while (fold) { fold.open = true; fold = fold.parentElement && fold.parentElement.closest("details"); }
  card.scrollIntoView({ behavior: "smooth", block: "center" });
  card.classList.remove("rag-flash");
  void card.offsetWidth;
  card.classList.add("rag-flash");
}, true);
</script>
"""
