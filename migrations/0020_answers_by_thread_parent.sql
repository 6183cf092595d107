-- The answers in the threads of a channel: a deleted channel's reply comments are found by it (every channel or
-- thread deletion in a server looks, so it must not scan every answer).
CREATE INDEX answers_by_thread_parent ON answers (thread_parent_id) WHERE thread_parent_id IS NOT NULL;
