/** pmigd, the node agent: peer protocol, migration state machine, commit/abort (issue 5). */
package io.pmig.daemon;
