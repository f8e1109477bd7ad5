"""Chat messages for a task: the one place that decides what the policy is shown.

from dense_rl.tasks.chat import messages_for
tokenizer.apply_chat_template(messages_for(task), add_generation_prompt=True, tokenize=False)
"""

from __future__ import annotations

from dense_rl.tasks.robot_tasks import COMPACT_SYSTEM
from dense_rl.tasks.types import CodeTask, RobotTask

CODE_SYSTEM = "You are a helpful Python assistant."


def messages_for(task: CodeTask | RobotTask) -> list[dict[str, str]]:
    """System + user messages for `task` (the tiny policy's format: short, no few-shot turns)."""
    system = CODE_SYSTEM if isinstance(task, CodeTask) else COMPACT_SYSTEM
    return [{"role": "system", "content": system}, {"role": "user", "content": task.instruction}]
