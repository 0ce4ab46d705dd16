// Pure: whether "Run Current File on Colab" can run what the active editor shows, and if not, the
// sentence that says why (and what it would have run).
import * as path from "node:path";

export interface EditorFacts {
  scheme: string;
  languageId: string;
  fileName: string;
}

/** Undefined when the editor holds a runnable Python file; else the one-sentence refusal. */
export function runRefusal(editor: EditorFacts | undefined, notebookFile: string | undefined, remotePython: string): string | undefined {
  if (notebookFile !== undefined) {
    const name = path.basename(notebookFile);
    return `${name} is a notebook, and ColabLink runs Python files: pick “ColabLink” in the notebook's kernel picker (ColabLink: Use as Jupyter Kernel) to run it on the runtime's kernel.`;
  }
  if (!editor) {
    return "Open the Python file to run in an editor first.";
  }
  if (editor.scheme !== "file") {
    return "ColabLink runs files saved in the workspace; save this editor to a .py file first.";
  }
  if (editor.languageId !== "python") {
    const name = path.basename(editor.fileName);
    return `${name} is not a Python file, so Run Current File would run “${remotePython} ${name}” and fail; use Run Command on Colab… for other programs.`;
  }
  return undefined;
}
