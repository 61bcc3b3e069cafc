export {
  handleMessageCommand,
  loadMessage,
  loadMessages,
  loadMessagesKept,
  type CommandError,
  type CommandOutcome,
  type LoadedMessage,
} from './message-command-handler.js';
