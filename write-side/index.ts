export {
  handleMessageCommand,
  loadMessage,
  loadMessages,
  type CommandError,
  type CommandOutcome,
  type LoadedMessage,
} from './message-command-handler.js';
