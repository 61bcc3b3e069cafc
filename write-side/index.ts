export { handleMessageCommand, loadMessage, type CommandError, type CommandOutcome } from './message-command-handler.js';
