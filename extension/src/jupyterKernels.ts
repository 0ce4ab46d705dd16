// Hooks ColabLink's Jupyter server collection into the Jupyter extension, lazily: when a notebook is
// open (the time its API asks for), never during ColabLink's activation, and never failing when the
// Jupyter extension is absent. "ColabLink: Use as Jupyter Kernel" opens the kernel picker, or offers
// to install the Jupyter extension.
import type { Jupyter, JupyterServerCollection } from "@vscode/jupyter-extension";
import * as vscode from "vscode";
import type { HelperClient } from "./helperClient";
import { COLLECTION_ID, COLLECTION_LABEL, ColabLinkServers, JUPYTER_EXTENSION_ID } from "./jupyterServers";
import { errorMessage, log } from "./logging";
import type { ProfileStore } from "./profiles";
import { Method, type FlushParams, type JupyterEnsureParams, type JupyterEnsureResult } from "./protocol";

export class JupyterKernels implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly servers: ColabLinkServers;
  private collection: JupyterServerCollection | undefined;
  private registering: Promise<boolean> | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly helper: HelperClient,
    profiles: ProfileStore,
  ) {
    this.servers = new ColabLinkServers({
      profiles: () => profiles.all().map((status) => status.profile),
      onDidChangeProfiles: profiles.onDidChange.event,
      prepare: (profile, token) => this.prepare(profile, token),
      ensure: (profile, token) => this.ensure(profile, token),
      connect: async () => {
        await vscode.commands.executeCommand("colablink.connect");
      },
      uri: { parse: (text) => vscode.Uri.parse(text), file: (path) => vscode.Uri.file(path) },
      changed: this.changed,
    });
    const later = (): void => void this.register();
    this.subscriptions.push(
      this.servers,
      this.changed,
      vscode.workspace.onDidOpenNotebookDocument(later),
      // Installed (or enabled) while the window is open.
      vscode.extensions.onDidChange(() => vscode.workspace.notebookDocuments.length > 0 && later()),
    );
    if (vscode.workspace.notebookDocuments.length > 0) {
      setTimeout(later, 0);
    }
  }

  /** True once the collection is registered; false when the Jupyter extension is absent. */
  register(): Promise<boolean> {
    if (this.collection) {
      return Promise.resolve(true);
    }
    this.registering ??= this.createCollection().finally(() => (this.registering = undefined));
    return this.registering;
  }

  private async createCollection(): Promise<boolean> {
    const extension = vscode.extensions.getExtension<Jupyter>(JUPYTER_EXTENSION_ID);
    if (!extension) {
      return false;
    }
    try {
      const api = extension.isActive ? extension.exports : await extension.activate();
      if (typeof api?.createJupyterServerCollection !== "function") {
        log().warn("The Jupyter extension offers no server collections; ColabLink is not in its kernel picker.");
        return false;
      }
      const collection = api.createJupyterServerCollection(COLLECTION_ID, COLLECTION_LABEL, this.servers);
      collection.commandProvider = this.servers;
      this.collection = collection;
      log().info("ColabLink's runtimes are in the Jupyter kernel picker.");
      return true;
    } catch (error) {
      log().warn(`Registering with the Jupyter extension: ${errorMessage(error)}`);
      return false;
    }
  }

  /** "ColabLink: Use as Jupyter Kernel": the kernel picker, or the offer to install Jupyter. */
  async useAsKernel(): Promise<void> {
    if (!(await this.register())) {
      await offerJupyterInstall();
      return;
    }
    if (vscode.window.activeNotebookEditor) {
      await vscode.commands.executeCommand("notebook.selectKernel");
    } else {
      void vscode.window.showInformationMessage(
        "Open a notebook, then pick “ColabLink” in its kernel picker (Select Kernel) to run it on the runtime.",
      );
    }
  }

  /** A notebook is saved and its pushes landed before its kernel runs a cell. */
  private async prepare(profile: string, token: vscode.CancellationToken): Promise<void> {
    const dirty = vscode.workspace.notebookDocuments.filter((doc) => doc.isDirty && !doc.isUntitled);
    await Promise.all(dirty.map((doc) => doc.save()));
    const params: FlushParams = { profile };
    await this.helper.request(Method.FLUSH, params, token);
  }

  private ensure(profile: string, token: vscode.CancellationToken): Promise<JupyterEnsureResult> {
    const params: JupyterEnsureParams = { profile };
    return this.helper.request<JupyterEnsureResult>(Method.JUPYTER_ENSURE, params, token);
  }

  dispose(): void {
    this.collection?.dispose();
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
  }
}

async function offerJupyterInstall(): Promise<void> {
  log().info("The Jupyter extension is not installed; offering to install it.");
  const choice = await vscode.window.showInformationMessage(
    "Running a notebook on the runtime's kernel needs the Jupyter extension.",
    "Install Jupyter",
  );
  if (choice === "Install Jupyter") {
    await vscode.commands.executeCommand("workbench.extensions.search", `@id:${JUPYTER_EXTENSION_ID}`);
    try {
      await vscode.commands.executeCommand("workbench.extensions.installExtension", JUPYTER_EXTENSION_ID);
    } catch (error) {
      log().warn(`Installing Jupyter: ${String(error)}`);
    }
  }
}
