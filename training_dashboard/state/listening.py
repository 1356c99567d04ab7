"""The keyboard of the listening pages (/rate, /evaluate): keys click the page's own buttons, and
space plays or pauses its players.

One script shape for both pages: it only clicks buttons by their ``data-testid`` (so mouse and
keyboard run the same handlers, and a button the listen gate disabled stays shut to the keys too),
ignores keys typed into a text field or held with a modifier (Enter or Escape in a field marked
``data-keys-blur`` only leaves it), plays one clip at a time, and space resumes the clip played
last. Installed once per browser tab.
"""

from __future__ import annotations

import json

_SCRIPT = """
if (!window.%(flag)s) {
  window.%(flag)s = true;
  const players = %(players)s;
  const buttons = %(buttons)s;
  let last = players[0];
  document.addEventListener('play', (e) => {
    const t = e.target;
    if (!t || !players.includes(t.id)) return;
    last = t.id;
    for (const id of players) {  // one clip at a time
      const other = document.getElementById(id);
      if (other && other !== t && !other.paused) other.pause();
    }
  }, true);
  document.addEventListener('keydown', (e) => {
    if (!location.pathname.startsWith(%(path)s)) return;
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) {
      // a one-line box on the card (the reason): Enter or Escape leaves it, so the keys work again
      if (t.hasAttribute('data-keys-blur') && (e.key === 'Enter' || e.key === 'Escape')) {
        t.blur(); e.preventDefault();
      }
      return;
    }
    if (Object.hasOwn(buttons, e.key)) {
      const el = document.querySelector(`[data-testid="${buttons[e.key]}"]`);
      if (el && !el.disabled) { el.click(); e.preventDefault(); }
    } else if (e.key === ' ' || e.code === 'Space') {
      const found = players.map((id) => document.getElementById(id)).filter(Boolean);
      if (!found.length) return;
      e.preventDefault();
      const playing = found.find((a) => !a.paused);
      if (playing) { playing.pause(); return; }
      (document.getElementById(last) || found[0]).play();
    }
  });
}
"""


def keys_script(flag: str, path: str, buttons: dict[str, str], players: tuple[str, ...]) -> str:
    """The page's keyboard script, for ``rx.call_script`` in its on_load.

    Args:
        flag: The ``window`` property that marks the script installed in this tab.
        path: The page's address; elsewhere the keys do nothing.
        buttons: Key (``KeyboardEvent.key``) to the ``data-testid`` of the button it clicks.
        players: The element ids of the page's ``<audio>`` players, the first played by default.
    """
    return _SCRIPT % {"flag": flag, "path": json.dumps(path), "buttons": json.dumps(buttons),
                      "players": json.dumps(list(players))}
