// A stand-in for the Jupyter extension (ms-toolsai.jupyter), installed into code-server for
// ColabLink's end-to-end test only: the real one cannot be installed offline. It is a mock at the
// extension boundary: its API's createJupyterServerCollection records, one JSON line each, the
// collection ColabLink creates, the servers its provider lists, and whether a command provider was
// set, in the file COLABLINK_TEST_JUPYTER_LOG names.
const fs = require("node:fs");

function record(entry) {
  const file = process.env.COLABLINK_TEST_JUPYTER_LOG;
  if (file) {
    fs.appendFileSync(file, `${JSON.stringify(entry)}\n`);
  }
}

const token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };

function activate() {
  return {
    kernels: { getKernel: async () => undefined },
    createJupyterServerCollection(id, label, serverProvider) {
      const collection = { id, label, commandProvider: undefined, dispose() {} };
      const list = async (why) => {
        const servers = await serverProvider.provideJupyterServers(token);
        record({ why, id, label, servers, commandProvider: Boolean(collection.commandProvider) });
      };
      setTimeout(() => void list("created"), 200);
      serverProvider.onDidChangeServers?.(() => void list("changed"));
      return collection;
    },
  };
}

module.exports = { activate };
