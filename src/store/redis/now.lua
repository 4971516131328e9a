-- The store's time.
-- KEYS[1]  the clock key, or absent (see the prelude)
-- Returns  {-1, ms late} (prelude), {0, now_ms}
return { 0, now }
